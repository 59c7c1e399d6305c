import { defineRule } from "../rule.js";

export default defineRule({
  id: "jwt",
  title: "JSON Web Token",
  provider: "the issuer of the token",
  keywords: ["eyJ"],
  pattern: /(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}(?![\w-])/g,
  revoke: "revoke the session or token at its issuer and rotate the signing key if it can mint new ones",
  // The header must decode to a JSON object naming an algorithm.
  confirm: (secret) =>
    /"alg"\s*:/.test(Buffer.from(secret.slice(0, secret.indexOf(".")), "base64url").toString("utf8")),
});
