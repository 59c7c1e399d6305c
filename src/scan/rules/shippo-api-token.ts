import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "shippo-api-token",
  title: "Shippo API token",
  provider: "Shippo",
  keywords: ["shippo_live_", "shippo_test_"],
  pattern: /(?<![\w-])shippo_(?:live|test)_[a-fA-F0-9]{40}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(12)),
  revoke: "generate a new token in Shippo (Settings, API) and stop using the old one",
});
