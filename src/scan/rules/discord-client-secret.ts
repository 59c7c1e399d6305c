import { assignedKeyRule } from "../assigned-key.js";

export default assignedKeyRule({
  id: "discord-client-secret",
  title: "Discord OAuth client secret",
  provider: "Discord",
  names: ["discord"],
  value: /[A-Za-z0-9_-]{32}/,
  revoke: "reset the client secret in the Discord Developer Portal (your application, OAuth2)",
});
