import { keywordRule } from "../keyword-rule.js";

// Tokens are base64 of `tok:…` (`dG9rOj…`), 60 characters.
export default keywordRule({
  id: "intercom-access-token",
  title: "Intercom access token",
  provider: "Intercom",
  words: ["intercom"],
  value: /[A-Za-z0-9=_-]{60}/,
  revoke: "regenerate the access token in the Intercom Developer Hub (your app, Authentication)",
});
