import { defineRule } from "../rule.js";

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

/**
 * A Teams incoming webhook (Office 365 connector): the tenant's `webhook.office.com` host, or the
 * older `outlook.office.com`, then group@tenant ids, the connector id and its owner.
 */
export default defineRule({
  id: "microsoft-teams-webhook",
  title: "Microsoft Teams incoming webhook URL",
  provider: "Microsoft Teams",
  keywords: ["IncomingWebhook/"],
  pattern: new RegExp(
    `https:\\/\\/(?:[a-z0-9-]{1,63}\\.webhook\\.office\\.com\\/webhookb2|outlook\\.office(?:365)?\\.com\\/webhook)\\/${UUID}@${UUID}\\/IncomingWebhook\\/[0-9a-f]{32}\\/${UUID}(?:\\/[A-Za-z0-9_-]{20,80})?`,
    "g",
  ),
  revoke: "remove the Incoming Webhook connector from the Teams channel and add a new one",
});
