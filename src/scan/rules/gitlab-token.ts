import { KEY_PREFIXES } from "../../secret/index.js";
import { defineRule } from "../rule.js";

export default defineRule({
  id: "gitlab-token",
  title: "GitLab token",
  provider: "GitLab",
  keywords: KEY_PREFIXES.gitlab.prefixes,
  pattern: /(?<![\w-])gl(?:pat|dt|ptt|rt|soat|cbt|imt|agent|ffct)-[A-Za-z0-9_-]{20,64}(?![\w-])/g,
  revoke: "revoke it in GitLab (access tokens settings) and create a new one",
});
