import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "xai-api-key",
  title: "xAI API key",
  provider: "xAI",
  keywords: ["xai-"],
  pattern: /(?<![\w-])xai-[A-Za-z0-9]{80}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(4)),
  revoke: "delete it in the xAI console (API keys) and create a new one",
});
