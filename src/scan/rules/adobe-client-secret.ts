import { defineRule, lowEntropy } from "../rule.js";

export default defineRule({
  id: "adobe-client-secret",
  title: "Adobe client secret",
  provider: "Adobe",
  keywords: ["p8e-"],
  pattern: /(?<![\w-])p8e-[A-Za-z0-9]{32}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(4), 3),
  revoke: "reset the client secret in the Adobe Developer Console (project, OAuth credential)",
});
