import { defineRule, lowEntropy } from "../rule.js";

// `ico-` and 32 letters and digits: a digit, or more entropy than a word has, tells it from an icon's class name.
export default defineRule({
  id: "infracost-api-token",
  title: "Infracost API key",
  provider: "Infracost",
  keywords: ["ico-"],
  pattern: /(?<![\w-])ico-[A-Za-z0-9]{32}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(4), /[0-9]/.test(secret) ? 3 : 4.1),
  revoke: "rotate the API key in Infracost Cloud (Org settings, API keys)",
});
