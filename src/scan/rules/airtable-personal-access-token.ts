import { defineRule, lowEntropy } from "../rule.js";

// `pat`, a 14-character token id, a dot and 64 hex digits of secret.
export default defineRule({
  id: "airtable-personal-access-token",
  title: "Airtable personal access token",
  provider: "Airtable",
  keywords: ["pat"],
  pattern: /(?<![\w-])pat[A-Za-z0-9]{14}\.[a-f0-9]{64}(?![\w.-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(18), 3),
  revoke: "delete the token at airtable.com/create/tokens and create a new one",
});
