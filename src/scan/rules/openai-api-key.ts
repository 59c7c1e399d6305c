import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "openai-api-key",
  title: "OpenAI API key",
  provider: "OpenAI",
  keywords: ["T3BlbkFJ"],
  pattern:
    /(?<![\w-])sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(3)),
  revoke: "revoke it at platform.openai.com/api-keys and create a new one",
});
