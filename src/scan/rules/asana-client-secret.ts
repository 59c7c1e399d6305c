import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "asana-client-secret",
  title: "Asana OAuth client secret",
  provider: "Asana",
  words: ["asana"],
  value: /[a-z0-9]{32}/,
  revoke: "reset the client secret in the Asana developer console (your app, OAuth)",
});
