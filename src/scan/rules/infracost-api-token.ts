import { defineRule, lowEntropy } from "../rule.js";

// `ico-` and 32 letters and digits; a digit sets it apart from an icon's class name.
export default defineRule({
  id: "infracost-api-token",
  title: "Infracost API key",
  provider: "Infracost",
  keywords: ["ico-"],
  pattern: /(?<![\w-])ico-[A-Za-z0-9]{32}(?![\w-])/g,
  confirm: (secret) =>
    /[0-9]/.test(secret) && /[A-Za-z]/.test(secret.slice(4)) && !lowEntropy(secret.slice(4), 3.5),
  revoke: "rotate the API key in Infracost Cloud (Org settings, API keys)",
});
