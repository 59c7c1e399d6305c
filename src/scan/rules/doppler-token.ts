import { defineRule } from "../rule.js";

export default defineRule({
  id: "doppler-token",
  title: "Doppler token",
  provider: "Doppler",
  keywords: ["dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."],
  pattern: /(?<![\w.-])dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}(?![\w-])/g,
  revoke: "revoke the token in the Doppler dashboard and create a new one",
});
