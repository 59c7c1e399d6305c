import { defineRule, plausibleKeyBody } from "../rule.js";

/**
 * Square access tokens (`EAAA` and 60 characters, or the older `sq0atp-`) and application
 * secrets (`sq0csp-`).
 */
export default defineRule({
  id: "square-token",
  title: "Square access token or secret",
  provider: "Square",
  keywords: ["sq0atp-", "sq0csp-", "EAAA"],
  pattern:
    /(?<![\w-])(?:EAAA[A-Za-z0-9_-]{60}|sq0atp-[A-Za-z0-9_-]{22,60}|sq0csp-[A-Za-z0-9_-]{43})(?![\w-])/g,
  confirm: (secret) =>
    secret.startsWith("EAAA")
      ? plausibleKeyBody(secret.slice(4)) && /[a-z]/.test(secret) && /[0-9]/.test(secret)
      : plausibleKeyBody(secret.slice(7)),
  revoke: "replace the credential in the Square Developer dashboard",
});
