import { defineRule } from "../rule.js";

/**
 * An X (Twitter) app-only bearer token: 22 `A`s, then 80 to 100 characters of which `%` is the
 * URL-encoding of its padding. Not a start inside a longer run, so a base64 blob of zero bytes
 * is read once, not from each of its `A`s.
 */
export default defineRule({
  id: "twitter-bearer-token",
  title: "X (Twitter) bearer token",
  provider: "X (Twitter)",
  keywords: ["AAAAAAAAAAAAAAAAAAAAA"],
  pattern: /(?<![A-Za-z0-9%+/])A{22}[A-Za-z0-9%]{80,100}(?![A-Za-z0-9%+/=])/g,
  confirm: (secret) => {
    const body = secret.replace(/^A+/, "");
    return body.length >= 60 && /[a-z]/.test(body) && /[0-9]/.test(body) && /[A-Z]/.test(body);
  },
  revoke: "regenerate the bearer token in the X developer portal (Keys and tokens)",
});
