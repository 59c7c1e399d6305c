import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "gitter-access-token",
  title: "Gitter access token",
  provider: "Gitter",
  words: ["gitter"],
  value: /[a-f0-9]{40}/,
  revoke:
    "revoke the token at developer.gitter.im (Gitter now runs on Matrix; revoke the Matrix access token too)",
});
