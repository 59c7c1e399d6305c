import { defineRule, lowEntropy } from "../rule.js";

// Base64 of the bot's user id, a timestamp and an HMAC, joined by dots; only in files that
// mention Discord, and only when the first part decodes to a user id.
export default defineRule({
  id: "discord-bot-token",
  title: "Discord bot token",
  provider: "Discord",
  keywords: ["discord", "Discord", "DISCORD"],
  pattern: /(?<![\w.-])[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}(?![\w.-])/g,
  confirm: (secret) =>
    /^\d{17,20}$/.test(Buffer.from(secret.slice(0, secret.indexOf(".")), "base64url").toString("latin1")) &&
    !lowEntropy(secret.slice(secret.lastIndexOf(".") + 1), 3),
  revoke: "reset the token in the Discord Developer Portal (your application, Bot, Reset Token)",
});
