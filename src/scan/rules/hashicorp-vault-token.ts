import { defineRule } from "../rule.js";

export default defineRule({
  id: "hashicorp-vault-token",
  title: "HashiCorp Vault token",
  provider: "HashiCorp Vault",
  keywords: ["hvs.", "hvb."],
  pattern: /(?<![\w.-])hv[sb]\.[A-Za-z0-9_-]{90,}(?![\w-])/g,
  revoke: "revoke it with vault token revoke and issue a new one",
});
