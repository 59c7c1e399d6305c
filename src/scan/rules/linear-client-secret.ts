import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "linear-client-secret",
  title: "Linear OAuth client secret",
  provider: "Linear",
  words: ["linear"],
  wordStart: true,
  nameHas: /secret/i,
  value: /[a-f0-9]{32}/,
  revoke: "rotate the client secret of the OAuth application in Linear (Settings, API)",
});
