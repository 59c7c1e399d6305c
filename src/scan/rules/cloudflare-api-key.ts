import { keywordRule } from "../keyword-rule.js";

// The Global API Key is 37 hex digits; API tokens made before the `cfut_` prefix are 40 characters.
export default keywordRule({
  id: "cloudflare-api-key",
  title: "Cloudflare Global API key or API token (unprefixed)",
  provider: "Cloudflare",
  words: ["cloudflare", "cf_api_key", "cf_api_token", "cf_dns_api_token"],
  value: /[a-f0-9]{37}|[A-Za-z0-9_-]{40}/,
  revoke:
    "roll the Global API Key or delete the API token in the Cloudflare dashboard (My Profile, API Tokens)",
});
