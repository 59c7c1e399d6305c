import { KEY_PREFIXES } from "../../secret/index.js";
import { defineRule, lowEntropy } from "../rule.js";

// Personal (ghp_), OAuth (gho_), user-to-server (ghu_), app installation (ghs_) and refresh
// (ghr_) tokens.
export default defineRule({
  id: "github-token",
  title: "GitHub token",
  provider: "GitHub",
  keywords: KEY_PREFIXES.github.prefixes,
  pattern: /(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,251}(?![A-Za-z0-9_])/g,
  confirm: (secret) => !lowEntropy(secret.slice(4), 3),
  revoke: "revoke it at github.com/settings/tokens (or in the app settings) and create a new one",
});
