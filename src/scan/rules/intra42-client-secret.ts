import { defineRule, lowEntropy } from "../rule.js";

export default defineRule({
  id: "intra42-client-secret",
  title: "42 Intra API client secret",
  provider: "42",
  keywords: ["s-s4t2ud-", "s-s4t2af-"],
  pattern: /(?<![\w-])s-s4t2(?:ud|af)-[a-f0-9]{64}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(9), 3),
  revoke: "generate a new secret for the application on the 42 intranet (API, your application)",
});
