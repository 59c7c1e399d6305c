import { defineRule } from "../rule.js";

// User access tokens `hf_…` and organization API tokens `api_org_…`: 34 letters of both cases.
export default defineRule({
  id: "huggingface-token",
  title: "Hugging Face access token",
  provider: "Hugging Face",
  keywords: ["hf_", "api_org_"],
  pattern: /(?<![\w-])(?:hf|api_org)_[A-Za-z]{34}(?![\w-])/g,
  revoke:
    "invalidate it at huggingface.co/settings/tokens (or the organization's settings) and create a new one",
  confirm: (secret) => /[A-Z]/.test(secret.slice(-34)) && /[a-z]/.test(secret.slice(-34)),
});
