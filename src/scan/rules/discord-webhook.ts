import { defineRule } from "../rule.js";

export default defineRule({
  id: "discord-webhook",
  title: "Discord webhook URL",
  provider: "Discord",
  keywords: ["/api/webhooks/"],
  pattern:
    /https:\/\/(?:canary\.|ptb\.)?discord(?:app)?\.com\/api\/webhooks\/\d{17,20}\/[A-Za-z0-9_-]{60,68}/g,
  revoke: "delete the webhook in the Discord channel settings and create a new one",
});
