import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "airtable-api-key",
  title: "Airtable legacy API key",
  provider: "Airtable",
  words: ["airtable"],
  value: /key[A-Za-z0-9]{14}/,
  wordBits: 3.3,
  revoke: "API keys are retired: delete it at airtable.com/account and use a personal access token",
});
