import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "sourcegraph-token",
  title: "Sourcegraph access token",
  provider: "Sourcegraph",
  keywords: ["sgp_"],
  pattern: /(?<![\w-])sgp_(?:(?:[a-fA-F0-9]{16}|local)_)?[a-fA-F0-9]{40}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(-40)),
  revoke: "delete the token in Sourcegraph (user settings, Access tokens) and create a new one",
});
