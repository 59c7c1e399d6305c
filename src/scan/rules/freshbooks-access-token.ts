import { assignedKeyRule } from "../assigned-key.js";

export default assignedKeyRule({
  id: "freshbooks-access-token",
  title: "FreshBooks access token",
  provider: "FreshBooks",
  names: ["freshbooks"],
  value: /[a-z0-9]{64}/,
  revoke: "revoke the app's access in FreshBooks (Settings, Apps) and create a new token",
});
