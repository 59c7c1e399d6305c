import { keywordRule } from "../keyword-rule.js";

/** A Mailgun private API key: `key-` and 32 hex, or since 2022 32 hex, 8 and 8 joined by dashes. */
export default keywordRule({
  id: "mailgun-api-key",
  title: "Mailgun API key",
  provider: "Mailgun",
  words: ["mailgun"],
  value: /key-[a-f0-9]{32}|[a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8}/,
  revoke: "delete the key in Mailgun (API Security) and create a new one",
});
