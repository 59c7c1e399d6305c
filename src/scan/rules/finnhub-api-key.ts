import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "finnhub-api-key",
  title: "Finnhub API key",
  provider: "Finnhub",
  words: ["finnhub"],
  value: /[a-z0-9]{20}/,
  minBits: 2.5,
  revoke: "regenerate the key in the Finnhub dashboard",
});
