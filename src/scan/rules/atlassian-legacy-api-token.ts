import { keywordRule } from "../keyword-rule.js";

// Tokens made before ATATT3 tokens were 24 letters and digits.
export default keywordRule({
  id: "atlassian-legacy-api-token",
  title: "Atlassian API token (unprefixed)",
  provider: "Atlassian",
  words: ["atlassian", "confluence", "jira"],
  value: /[A-Za-z0-9]{24}/,
  wordBits: 3.7,
  revoke: "revoke it at id.atlassian.com (Security, API tokens) and create a new one",
});
