import { defineRule } from "../rule.js";

export default defineRule({
  id: "telegram-bot-token",
  title: "Telegram bot token",
  provider: "Telegram",
  keywords: [":AA"],
  pattern: /(?<![\w:])\d{8,10}:AA[A-Za-z0-9_-]{33}(?![\w-])/g,
  revoke: "revoke it with BotFather (/revoke) and use the new token",
});
