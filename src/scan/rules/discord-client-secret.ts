import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "discord-client-secret",
  title: "Discord OAuth client secret",
  provider: "Discord",
  words: ["discord"],
  value: /[A-Za-z0-9_-]{32}/,
  revoke: "reset the client secret in the Discord Developer Portal (your application, OAuth2)",
});
