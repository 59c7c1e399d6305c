import { defineRule, lowEntropy } from "../rule.js";

export default defineRule({
  id: "brevo-api-key",
  title: "Brevo (Sendinblue) API or SMTP key",
  provider: "Brevo",
  keywords: ["xkeysib-", "xsmtpsib-"],
  pattern: /(?<![\w-])x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(secret.indexOf("-") + 1, -17), 3),
  revoke: "delete the key in Brevo (SMTP & API, API keys) and create a new one",
});
