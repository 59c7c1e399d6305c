import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "freshbooks-access-token",
  title: "FreshBooks access token",
  provider: "FreshBooks",
  words: ["freshbooks"],
  value: /[a-z0-9]{64}/,
  revoke: "revoke the app's access in FreshBooks (Settings, Apps) and create a new token",
});
