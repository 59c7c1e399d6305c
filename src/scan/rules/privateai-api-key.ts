import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "privateai-api-key",
  title: "Private AI API key",
  provider: "Private AI",
  words: ["privateai", "private_ai", "private-ai"],
  value: /[A-Za-z0-9]{32}/,
  minBits: 3.5,
  revoke: "delete the key in the Private AI customer portal and create a new one",
});
