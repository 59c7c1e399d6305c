import { defineRule, lowEntropy } from "../rule.js";

// Production keys are `EZAK…`, test keys `EZTK…`.
export default defineRule({
  id: "easypost-api-key",
  title: "EasyPost API key",
  provider: "EasyPost",
  keywords: ["EZAK", "EZTK"],
  pattern: /(?<![\w-])EZ[AT]K[A-Za-z0-9]{54}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(4), 3),
  revoke: "delete the key in EasyPost (Account settings, API keys) and create a new one",
});
