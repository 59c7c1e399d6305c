import { defineRule, lowEntropy } from "../rule.js";

// Service account tokens `glsa_…_<crc32>`, Grafana Cloud access policy tokens `glc_` and base64 of
// JSON, and legacy API keys: base64 of `{"k":"…` (`eyJrIjoi…`).
export default defineRule({
  id: "grafana-token",
  title: "Grafana token (service account, Cloud access policy or API key)",
  provider: "Grafana",
  keywords: ["glsa_", "glc_", "eyJrIjoi"],
  pattern:
    /(?<![\w+/-])(?:glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,400}={0,3}|eyJrIjoi[A-Za-z0-9]{70,400}={0,3})(?![\w+/=-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(secret.startsWith("eyJ") ? 8 : secret.indexOf("_") + 1), 3),
  revoke:
    "delete the token or API key in Grafana (Administration, Service accounts or Access policies) and create a new one",
});
