import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "newrelic-user-key",
  title: "New Relic user API key",
  provider: "New Relic",
  keywords: ["NRAK-"],
  pattern: /(?<![\w-])NRAK-[A-Z0-9]{27}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(5)),
  revoke: "delete the key in New Relic (API keys) and create a new one",
});
