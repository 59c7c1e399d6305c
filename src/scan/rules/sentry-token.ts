import { defineRule } from "../rule.js";

export default defineRule({
  id: "sentry-token",
  title: "Sentry auth token",
  provider: "Sentry",
  keywords: ["sntryu_", "sntrys_"],
  pattern: /(?<![\w-])(?:sntryu_[a-f0-9]{64}|sntrys_eyJ[A-Za-z0-9_=+/-]{60,}?_[A-Za-z0-9+/]{43})(?![\w+/-])/g,
  revoke: "revoke it in Sentry (User or Organization auth tokens) and create a new one",
});
