import { assignedKeyRule } from "../assigned-key.js";

// Tokens made before ATATT3 tokens were 24 letters and digits.
export default assignedKeyRule({
  id: "atlassian-legacy-api-token",
  title: "Atlassian API token (unprefixed)",
  provider: "Atlassian",
  names: ["atlassian", "confluence", "jira"],
  value: /[A-Za-z0-9]{24}/,
  wordBits: 3.7,
  revoke: "revoke it at id.atlassian.com (Security, API tokens) and create a new one",
});
