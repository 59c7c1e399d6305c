import { defineRule, plausibleKeyBody } from "../rule.js";

/**
 * A Notion integration token: `ntn_` and 46 characters since September 2024, `secret_` and 43
 * before; the older form must mix upper and lower case and digits, as a random one does.
 */
export default defineRule({
  id: "notion-token",
  title: "Notion integration token",
  provider: "Notion",
  keywords: ["ntn_", "secret_"],
  pattern: /(?<![\w-])(?:ntn_\d{11}[A-Za-z0-9]{35}|secret_[A-Za-z0-9]{43})(?![\w-])/g,
  confirm: (secret) =>
    secret.startsWith("ntn_")
      ? plausibleKeyBody(secret.slice(15))
      : plausibleKeyBody(secret.slice(7), 4) &&
        /[a-z]/.test(secret.slice(7)) &&
        /[A-Z]/.test(secret) &&
        /\d/.test(secret),
  revoke: "refresh the integration's secret in Notion (My integrations) and use the new one",
});
