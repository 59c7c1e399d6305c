import { defineRule } from "../rule.js";

export default defineRule({
  id: "grafana-token",
  title: "Grafana service account token",
  provider: "Grafana",
  keywords: ["glsa_"],
  pattern: /(?<![\w-])glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}(?![\w-])/g,
  revoke: "delete the token in Grafana (Service accounts) and create a new one",
});
