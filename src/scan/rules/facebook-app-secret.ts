import { assignedKeyRule } from "../assigned-key.js";

export default assignedKeyRule({
  id: "facebook-app-secret",
  title: "Facebook (Meta) app secret",
  provider: "Meta",
  names: ["facebook", "fb_app_secret", "fb_secret"],
  value: /[a-f0-9]{32}/,
  revoke: "reset the app secret in Meta for Developers (App settings, Basic)",
});
