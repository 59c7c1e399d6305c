import { defineRule } from "../rule.js";

export default defineRule({
  id: "atlassian-api-token",
  title: "Atlassian API token",
  provider: "Atlassian",
  keywords: ["ATATT3"],
  pattern: /(?<![\w-])ATATT3[A-Za-z0-9_=-]{180,200}(?![\w=-])/g,
  revoke: "revoke it at id.atlassian.com (Security, API tokens) and create a new one",
});
