import { KEY_PREFIXES } from "../../secret/index.js";
import { defineRule } from "../rule.js";

export default defineRule({
  id: "stripe-secret-key",
  title: "Stripe secret or restricted key",
  provider: "Stripe",
  keywords: KEY_PREFIXES.stripe.prefixes,
  pattern: /(?<![\w-])[sr]k_(?:live|test)_[A-Za-z0-9]{20,247}(?![\w-])/g,
  revoke: "roll the key in the Stripe dashboard (Developers, API keys)",
});
