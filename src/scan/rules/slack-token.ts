import { defineRule, plausibleKeyBody } from "../rule.js";

/**
 * Bot, user, app-level and legacy Slack tokens: `xox?-` and numeric ids (legacy workspace
 * tokens `xoxa-2-…`/`xoxr-2-…` carry a one-digit version first), or `xapp-` and an app id.
 */
export default defineRule({
  id: "slack-token",
  title: "Slack token",
  provider: "Slack",
  keywords: ["xox", "xapp-"],
  pattern:
    /(?<![\w-])(?:xox[abposre]-\d{6,}-[A-Za-z0-9-]{10,}|xox[ar]-\d-\d{6,}-[A-Za-z0-9-]{10,}|xapp-\d-[A-Z0-9]{9,}-\d{6,}-[a-z0-9]{32,})(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(5)),
  revoke: "revoke it in the Slack app settings (api.slack.com/apps) and reinstall to get a new one",
});
