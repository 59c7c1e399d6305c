import { keywordRule } from "../keyword-rule.js";

/** A Sentry auth token from before the `sntryu_`/`sntrys_` prefixes: 64 hex assigned to a Sentry name. */
export default keywordRule({
  id: "sentry-legacy-token",
  title: "Sentry auth token (unprefixed)",
  provider: "Sentry",
  words: ["sentry"],
  value: /[a-f0-9]{64}/,
  revoke: "revoke it in Sentry (User or Organization auth tokens) and create a new one",
});
