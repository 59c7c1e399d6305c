import { KEY_PREFIXES } from "../../secret/index.js";
import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "stripe-secret-key",
  title: "Stripe secret or restricted key",
  provider: "Stripe",
  keywords: KEY_PREFIXES.stripe.prefixes,
  pattern: /(?<![\w-])[sr]k_(?:live|test|prod)_[A-Za-z0-9]{20,247}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(8)),
  revoke: "roll the key in the Stripe dashboard (Developers, API keys)",
});
