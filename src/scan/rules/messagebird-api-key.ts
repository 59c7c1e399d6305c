import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "messagebird-api-key",
  title: "MessageBird (Bird) access key",
  provider: "MessageBird",
  words: ["messagebird", "message_bird", "message-bird"],
  value: /[A-Za-z0-9]{25}/,
  wordBits: 3.65,
  revoke: "delete the access key in the MessageBird dashboard (Developers, API access) and create a new one",
});
