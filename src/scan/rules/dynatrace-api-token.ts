import { defineRule, lowEntropy } from "../rule.js";

// `dt0c01.` (API tokens; `dt0s01.` and others for OAuth clients), a 24-character id and a 64-character secret.
export default defineRule({
  id: "dynatrace-api-token",
  title: "Dynatrace token",
  provider: "Dynatrace",
  keywords: ["dt0"],
  pattern: /(?<![\w.-])dt0[a-z]\d{2}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}(?![\w.-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(32), 3),
  revoke: "delete the token in Dynatrace (Access tokens) and create a new one",
});
