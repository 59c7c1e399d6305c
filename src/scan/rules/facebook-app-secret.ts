import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "facebook-app-secret",
  title: "Facebook (Meta) app secret",
  provider: "Meta",
  words: ["facebook", "fb_app_secret", "fb_secret"],
  value: /[a-f0-9]{32}/,
  revoke: "reset the app secret in Meta for Developers (App settings, Basic)",
});
