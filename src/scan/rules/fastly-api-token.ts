import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "fastly-api-token",
  title: "Fastly API token",
  provider: "Fastly",
  words: ["fastly"],
  value: /[A-Za-z0-9_-]{32}/,
  revoke: "delete the token in Fastly (Account, Personal API tokens) and create a new one",
});
