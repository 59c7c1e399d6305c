import { defineRule } from "../rule.js";

export default defineRule({
  id: "shopify-token",
  title: "Shopify access token",
  provider: "Shopify",
  keywords: ["shpat_", "shpca_", "shppa_", "shpss_"],
  pattern: /(?<![\w-])shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}(?![\w-])/g,
  revoke: "rotate the app credentials in the Shopify partner dashboard or admin",
});
