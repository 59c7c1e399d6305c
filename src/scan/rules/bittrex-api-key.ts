import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "bittrex-api-key",
  title: "Bittrex API key or secret",
  provider: "Bittrex",
  words: ["bittrex"],
  value: /[a-f0-9]{32}/,
  revoke: "delete the API key in Bittrex (Account, API keys)",
});
