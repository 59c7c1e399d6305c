import { defineRule, lowEntropy } from "../rule.js";

// `cfk_` (Global API Key), `cfut_` (user token), `cfat_` (account token): 40 characters and a CRC32 in hex.
export default defineRule({
  id: "cloudflare-token",
  title: "Cloudflare API token or key (prefixed)",
  provider: "Cloudflare",
  keywords: ["cfk_", "cfut_", "cfat_"],
  pattern: /(?<![\w-])(?:cfk|cfut|cfat)_[A-Za-z0-9]{40}[0-9a-f]{8}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(secret.indexOf("_") + 1, -8), 3),
  revoke: "roll or delete the token in the Cloudflare dashboard (My Profile or Manage Account, API Tokens)",
});
