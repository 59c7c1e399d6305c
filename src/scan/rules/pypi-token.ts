import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "pypi-token",
  title: "PyPI API token",
  provider: "PyPI",
  keywords: ["pypi-AgEIcHlwaS5vcmc"],
  pattern: /(?<![\w-])pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(20)),
  revoke: "remove the token in your PyPI account settings (API tokens) and create a new one",
});
