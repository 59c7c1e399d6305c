import { defineRule, lowEntropy } from "../rule.js";

export default defineRule({
  id: "harness-api-key",
  title: "Harness API key or service account token",
  provider: "Harness",
  keywords: ["pat.", "sat."],
  pattern: /(?<![\w.-])(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}(?![\w.-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(-20), 2.5),
  revoke: "delete the token in Harness (My profile or the service account, API keys) and create a new one",
});
