import { defineRule } from "../rule.js";

export default defineRule({
  id: "gitlab-token",
  title: "GitLab token",
  provider: "GitLab",
  keywords: ["glpat-", "gldt-", "glptt-", "glrt-", "glsoat-", "glcbt-", "glimt-", "glagent-", "glffct-"],
  pattern: /(?<![\w-])gl(?:pat|dt|ptt|rt|soat|cbt|imt|agent|ffct)-[A-Za-z0-9_-]{20,64}(?![\w-])/g,
  revoke: "revoke it in GitLab (access tokens settings) and create a new one",
});
