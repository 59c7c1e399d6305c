import { assignedKeyRule } from "../assigned-key.js";

export default assignedKeyRule({
  id: "asana-client-secret",
  title: "Asana OAuth client secret",
  provider: "Asana",
  names: ["asana"],
  value: /[a-z0-9]{32}/,
  revoke: "reset the client secret in the Asana developer console (your app, OAuth)",
});
