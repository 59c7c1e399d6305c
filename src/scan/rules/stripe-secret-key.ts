import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "stripe-secret-key",
  title: "Stripe secret or restricted key",
  provider: "Stripe",
  keywords: ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "sk_prod_", "rk_prod_"],
  pattern: /(?<![\w-])[sr]k_(?:live|test|prod)_[A-Za-z0-9]{20,247}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(8)),
  revoke: "roll the key in the Stripe dashboard (Developers, API keys)",
});
