import { defineRule, lowEntropy } from "../rule.js";

export default defineRule({
  id: "contentful-personal-access-token",
  title: "Contentful personal access token",
  provider: "Contentful",
  keywords: ["CFPAT-"],
  pattern: /(?<![\w-])CFPAT-[A-Za-z0-9_-]{43}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(6), 3),
  revoke: "revoke the token in Contentful (Settings, CMA tokens) and create a new one",
});
