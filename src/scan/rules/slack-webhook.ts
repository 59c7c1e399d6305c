import { defineRule, plausibleKeyBody } from "../rule.js";

/**
 * Incoming webhooks (`services/T…/B…/…`), workflow webhooks (`workflows/T…/A…/<id>/…`) and
 * workflow triggers (`triggers/T…/<id>/…`), over https or plain http.
 */
export default defineRule({
  id: "slack-webhook",
  title: "Slack webhook URL",
  provider: "Slack",
  keywords: ["hooks.slack.com"],
  pattern:
    /https?:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/T[A-Z0-9]{8,}\/[A-Z0-9]{8,}\/(?:\d{8,}\/)?[A-Za-z0-9]{20,}/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(secret.lastIndexOf("/") + 1)),
  revoke: "delete the webhook in the Slack app settings (or the workflow's trigger) and create a new one",
});
