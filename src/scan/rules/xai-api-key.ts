import { defineRule } from "../rule.js";

export default defineRule({
  id: "xai-api-key",
  title: "xAI API key",
  provider: "xAI",
  keywords: ["xai-"],
  pattern: /(?<![\w-])xai-[A-Za-z0-9]{80}(?![\w-])/g,
  revoke: "delete it in the xAI console (API keys) and create a new one",
});
