import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "mailchimp-api-key",
  title: "Mailchimp API key",
  provider: "Mailchimp",
  keywords: ["-us"],
  pattern: /(?<![A-Za-z0-9])[0-9a-f]{32}-us\d{1,2}(?![A-Za-z0-9])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(0, 32)),
  revoke: "disable the key in Mailchimp (Account, Extras, API keys) and create a new one",
});
