import { defineRule, lowEntropy } from "../rule.js";

// In the PHP array a Freemius SDK is set up with: `'secret_key' => 'sk_…'` (29 characters).
// Stripe's `sk_live_…` keys have their own rule.
export default defineRule({
  id: "freemius-secret-key",
  title: "Freemius secret key",
  provider: "Freemius",
  keywords: ["secret_key"],
  pattern: /["']secret_key["'][ \t]{0,5}=>[ \t]{0,5}["'](?<secret>sk_[^\s'"]{29})["']/g,
  confirm: (secret) => !/^sk_(?:live|test)_/.test(secret) && !lowEntropy(secret.slice(3), 3),
  revoke: "regenerate the secret key in the Freemius developer dashboard (Settings, Keys)",
});
