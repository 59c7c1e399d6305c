import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "replicate-api-token",
  title: "Replicate API token",
  provider: "Replicate",
  keywords: ["r8_"],
  pattern: /(?<![\w-])r8_[A-Za-z0-9]{37}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(3)),
  revoke: "disable it at replicate.com/account/api-tokens and create a new one",
});
