import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "cohere-api-key",
  title: "Cohere API key",
  provider: "Cohere",
  words: ["cohere", "co_api_key"],
  value: /[A-Za-z0-9]{40}/,
  minBits: 4,
  revoke: "delete the key in the Cohere dashboard (API keys) and create a new one",
});
