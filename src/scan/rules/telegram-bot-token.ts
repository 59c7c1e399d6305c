import { defineRule, plausibleKeyBody } from "../rule.js";

/**
 * `<bot id>:AA<33>`, standing alone or in the Bot API's URL (`api.telegram.org/bot<token>/…`,
 * where `bot` is glued to it), with the colon written as is or URL-encoded (`%3A`).
 */
export default defineRule({
  id: "telegram-bot-token",
  title: "Telegram bot token",
  provider: "Telegram",
  keywords: [":AA", "%3AAA", "%3aAA"],
  pattern: /(?:(?<![\w:])|(?<=(?<![A-Za-z0-9])bot))\d{8,12}(?::|%3[Aa])AA[A-Za-z0-9_-]{33}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.replace(/^\d+(?::|%3[Aa])AA/, "")),
  revoke: "revoke it with BotFather (/revoke) and use the new token",
});
