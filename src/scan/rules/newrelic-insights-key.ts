import { defineRule, plausibleKeyBody } from "../rule.js";

/** Insights insert (`NRII-`) and query (`NRIQ-`) keys. */
export default defineRule({
  id: "newrelic-insights-key",
  title: "New Relic insert or query key",
  provider: "New Relic",
  keywords: ["NRII-", "NRIQ-"],
  pattern: /(?<![\w-])NRI[IQ]-[A-Za-z0-9_-]{32}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(5)),
  revoke: "delete the key in New Relic (API keys) and create a new one",
});
