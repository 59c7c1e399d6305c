import { defineRule } from "../rule.js";

export default defineRule({
  id: "huggingface-token",
  title: "Hugging Face access token",
  provider: "Hugging Face",
  keywords: ["hf_"],
  pattern: /(?<![\w-])hf_[A-Za-z]{34}(?![\w-])/g,
  revoke: "invalidate it at huggingface.co/settings/tokens and create a new one",
  confirm: (secret) => /[A-Z]/.test(secret) && /[a-z]/.test(secret.slice(3)),
});
