import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "sendinblue-api-key",
  title: "Sendinblue (Brevo) API or SMTP key",
  provider: "Sendinblue (Brevo)",
  keywords: ["xkeysib-", "xsmtpsib-"],
  pattern: /(?<![\w-])x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(secret.indexOf("-") + 1)),
  revoke: "delete the key in Brevo (SMTP & API, API keys) and create a new one",
});
