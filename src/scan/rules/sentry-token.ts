import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "sentry-token",
  title: "Sentry auth token",
  provider: "Sentry",
  keywords: ["sntryu_", "sntrys_"],
  // Linear on hostile input: a token starts only after a character that cannot continue one
  // (not after / or +, so "/sntrys_" inside a run is no new start), its payload is bounded and
  // ends before the next "sntrys_", so each start reads at most up to the next one.
  pattern:
    /(?<![\w+/-])(?:sntryu_[a-f0-9]{64}|sntrys_eyJ(?:(?!sntrys_)[A-Za-z0-9_=+/-]){60,500}?_[A-Za-z0-9+/]{43})(?![\w+/-])/g,
  confirm: (secret) => plausibleKeyBody(secret.startsWith("sntryu_") ? secret.slice(7) : secret.slice(-43)),
  revoke: "revoke it in Sentry (User or Organization auth tokens) and create a new one",
});
