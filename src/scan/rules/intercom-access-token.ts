import { assignedKeyRule } from "../assigned-key.js";

// Tokens are base64 of `tok:…` (`dG9rOj…`), 60 characters.
export default assignedKeyRule({
  id: "intercom-access-token",
  title: "Intercom access token",
  provider: "Intercom",
  names: ["intercom"],
  value: /[A-Za-z0-9=_-]{60}/,
  revoke: "regenerate the access token in the Intercom Developer Hub (your app, Authentication)",
});
