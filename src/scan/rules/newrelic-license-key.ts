import { defineRule, plausibleKeyBody } from "../rule.js";

/** An ingest license key: 36 characters (EU ones start `eu01xx`) ending in `NRAL`. */
export default defineRule({
  id: "newrelic-license-key",
  title: "New Relic ingest license key",
  provider: "New Relic",
  keywords: ["NRAL"],
  pattern: /(?<![A-Za-z0-9])[a-z0-9]{6}[a-f0-9]{30}NRAL(?![A-Za-z0-9])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(6, -4)),
  revoke: "rotate the license key in New Relic (API keys, INGEST - LICENSE) and redeploy the agents",
});
