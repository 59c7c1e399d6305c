import { defineRule } from "../rule.js";

export default defineRule({
  id: "anthropic-api-key",
  title: "Anthropic API key",
  provider: "Anthropic",
  keywords: ["sk-ant-"],
  pattern: /(?<![\w-])sk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_-]{80,100}AA(?![\w-])/g,
  revoke: "delete it in the Anthropic Console (API keys) and create a new one",
});
