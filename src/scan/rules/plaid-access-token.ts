import { defineRule } from "../rule.js";

export default defineRule({
  id: "plaid-access-token",
  title: "Plaid access token",
  provider: "Plaid",
  keywords: ["access-sandbox-", "access-development-", "access-production-"],
  pattern:
    /(?<![\w-])access-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![\w-])/g,
  confirm: (secret) => !/^access-[a-z]+-(?:0{8}-0{4}-0{4}-0{4}-0{12}|([0-9a-f])\1{7}-)/.test(secret),
  revoke: "remove the Item with /item/remove (or rotate it with /item/access_token/invalidate) in Plaid",
});
