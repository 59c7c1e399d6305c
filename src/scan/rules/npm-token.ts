import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "npm-token",
  title: "npm access token",
  provider: "npm",
  keywords: ["npm_"],
  pattern: /(?<![\w-])npm_[A-Za-z0-9]{36}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(4)),
  revoke: "revoke it with npm token revoke (or on npmjs.com, Access Tokens) and create a new one",
});
