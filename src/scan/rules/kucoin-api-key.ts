import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "kucoin-api-key",
  title: "KuCoin API key or secret",
  provider: "KuCoin",
  words: ["kucoin"],
  value: /[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}|[a-f0-9]{24}/,
  minBits: 2.5,
  revoke: "delete the API key in KuCoin (API management) and create a new one",
});
