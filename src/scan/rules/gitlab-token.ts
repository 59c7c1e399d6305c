import { KEY_PREFIXES } from "../../secret/index.js";
import { defineRule, lowEntropy } from "../rule.js";

// Every token type GitLab prefixes (personal, deploy, trigger, runner, SCIM, CI job, incoming
// mail, agent, feature flag, feed, OAuth application secret, workspace), in the routable form
// too (`glpat-….<2+7>`), and runner registration tokens `GR1348941…`.
export default defineRule({
  id: "gitlab-token",
  title: "GitLab token",
  provider: "GitLab",
  keywords: KEY_PREFIXES.gitlab.prefixes,
  pattern:
    /(?<![\w-])(?:gl(?:pat|dt|ptt|rtr?|soat|cbt|imt|agent|ffct|ft|oas|wt)-[A-Za-z0-9_-]{20,300}(?:\.[0-9a-z]{9})?|GR1348941[A-Za-z0-9_-]{20})(?![\w.-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(secret.startsWith("GR") ? 9 : secret.indexOf("-") + 1), 2.5),
  revoke: "revoke it in GitLab (access tokens settings) and create a new one",
});
