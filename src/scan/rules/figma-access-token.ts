import { defineRule, lowEntropy } from "../rule.js";

export default defineRule({
  id: "figma-access-token",
  title: "Figma personal access token",
  provider: "Figma",
  keywords: ["figd_"],
  pattern: /(?<![\w-])figd_[A-Za-z0-9_-]{40,200}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(5), 3),
  revoke: "revoke the token in Figma (Settings, Security, Personal access tokens) and create a new one",
});
