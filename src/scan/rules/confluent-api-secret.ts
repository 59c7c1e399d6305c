import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "confluent-api-secret",
  title: "Confluent Cloud API secret",
  provider: "Confluent",
  words: ["confluent"],
  value: /[A-Za-z0-9+/]{64}/,
  revoke: "delete the API key in Confluent Cloud (API keys) and create a new one",
});
