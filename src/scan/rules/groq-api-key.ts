import { defineRule } from "../rule.js";

export default defineRule({
  id: "groq-api-key",
  title: "Groq API key",
  provider: "Groq",
  keywords: ["gsk_"],
  pattern: /(?<![\w-])gsk_[A-Za-z0-9]{52}(?![\w-])/g,
  revoke: "delete it at console.groq.com/keys and create a new one",
});
