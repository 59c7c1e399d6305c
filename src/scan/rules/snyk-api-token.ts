import { keywordRule } from "../keyword-rule.js";

/** A Snyk API token (a UUID), where the name says key or token: Snyk org and project ids are UUIDs too. */
export default keywordRule({
  id: "snyk-api-token",
  title: "Snyk API token",
  provider: "Snyk",
  words: ["snyk"],
  nameHas: /key|token/i,
  value: /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/,
  revoke: "revoke the token in Snyk (Account settings, or the service account) and create a new one",
});
