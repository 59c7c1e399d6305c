import { defineRule, lowEntropy } from "../rule.js";

// The Secret Key that, with the account password, derives the account's keys (two layouts).
export default defineRule({
  id: "1password-secret-key",
  title: "1Password account Secret Key",
  provider: "1Password",
  keywords: ["A3-"],
  pattern:
    /(?<![\w-])A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(3).replaceAll("-", ""), 3.5),
  revoke: "regenerate the Secret Key in 1Password (My Profile) and sign in again on every device",
});
