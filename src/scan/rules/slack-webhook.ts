import { defineRule } from "../rule.js";

export default defineRule({
  id: "slack-webhook",
  title: "Slack incoming webhook URL",
  provider: "Slack",
  keywords: ["hooks.slack.com"],
  pattern:
    /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/T[A-Z0-9]{8,}\/[A-Z0-9]{8,}\/[A-Za-z0-9]{20,}/g,
  revoke: "delete the webhook in the Slack app settings and create a new one",
});
