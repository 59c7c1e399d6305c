import { defineRule, lowEntropy } from "../rule.js";

// `4b1d` and 38 letters and digits; an upper-case letter sets it apart from a hex digest.
export default defineRule({
  id: "clickhouse-cloud-api-secret",
  title: "ClickHouse Cloud API secret key",
  provider: "ClickHouse",
  keywords: ["4b1d"],
  pattern: /(?<![\w-])4b1d[A-Za-z0-9]{38}(?![\w-])/g,
  confirm: (secret) => /[A-Z]/.test(secret) && /[a-z]/.test(secret) && !lowEntropy(secret.slice(4), 3),
  revoke: "delete the API key in ClickHouse Cloud (Organization, API keys) and create a new one",
});
