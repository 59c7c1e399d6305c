import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "terraform-cloud-token",
  title: "Terraform Cloud / HCP Terraform token",
  provider: "HashiCorp",
  keywords: [".atlasv1."],
  pattern: /(?<![\w-])[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_-]{60,70}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(secret.lastIndexOf(".") + 1)),
  revoke: "delete the token in HCP Terraform (User or Organization settings, Tokens) and create a new one",
});
