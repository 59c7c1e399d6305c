import { defineRule, lowEntropy } from "../rule.js";

export default defineRule({
  id: "cloudflare-origin-ca-key",
  title: "Cloudflare Origin CA key",
  provider: "Cloudflare",
  keywords: ["v1.0-"],
  pattern: /(?<![\w.-])v1\.0-[a-f0-9]{24}-[a-f0-9]{146}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(30), 3),
  revoke:
    "revoke the Origin CA Key in the Cloudflare dashboard (My Profile, API Tokens) and create a new one",
});
