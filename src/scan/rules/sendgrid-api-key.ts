import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "sendgrid-api-key",
  title: "SendGrid API key",
  provider: "SendGrid",
  keywords: ["SG."],
  pattern: /(?<![\w-])SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(3)),
  revoke: "delete the key in SendGrid (Settings, API Keys) and create a new one",
});
