import { defineRule, plausibleKeyBody } from "../rule.js";

/** App configuration tokens (`xoxe.xoxp-1-…`, `xoxe.xoxb-1-…`) and their refresh tokens (`xoxe-1-…`). */
export default defineRule({
  id: "slack-config-token",
  title: "Slack app configuration token",
  provider: "Slack",
  keywords: ["xoxe.xox", "xoxe-"],
  pattern: /(?<![\w.-])(?:xoxe\.xox[bp]-\d-[A-Za-z0-9]{163,166}|xoxe-\d-[A-Za-z0-9]{146})(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(secret.indexOf("-") + 3)),
  revoke: "revoke it with tooling.tokens.rotate or in the Slack app settings (Your App Configuration Tokens)",
});
