import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "coinbase-access-token",
  title: "Coinbase API key",
  provider: "Coinbase",
  words: ["coinbase"],
  value: /[A-Za-z0-9_-]{64}/,
  revoke: "delete the API key in Coinbase (Settings, API) and create a new one",
});
