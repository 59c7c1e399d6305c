import { defineRule, plausibleKeyBody } from "../rule.js";

/** Access tokens and shared secrets: 32 hex, or (since 2023) 32 to 64 mixed-case letters and digits. */
export default defineRule({
  id: "shopify-token",
  title: "Shopify access token",
  provider: "Shopify",
  keywords: ["shpat_", "shpca_", "shppa_", "shpss_"],
  pattern: /(?<![\w-])shp(?:at|ca|pa|ss)_[a-zA-Z0-9]{32,64}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(6)),
  revoke: "rotate the app credentials in the Shopify partner dashboard or admin",
});
