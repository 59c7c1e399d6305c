import { KEY_PREFIXES } from "../../secret/index.js";
import { defineRule } from "../rule.js";

export default defineRule({
  id: "github-fine-grained-token",
  title: "GitHub fine-grained personal access token",
  provider: "GitHub",
  keywords: KEY_PREFIXES.githubFineGrained.prefixes,
  pattern: /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}(?![A-Za-z0-9_])/g,
  revoke: "revoke it at github.com/settings/personal-access-tokens and create a new one",
});
