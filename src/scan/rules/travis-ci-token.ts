import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "travis-ci-token",
  title: "Travis CI API token",
  provider: "Travis CI",
  words: ["travis"],
  value: /[A-Za-z0-9]{22}/,
  wordBits: 3.5,
  minBits: 3.5,
  revoke: "regenerate the token in Travis CI (Settings, API authentication)",
});
