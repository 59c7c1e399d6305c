import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "kraken-api-key",
  title: "Kraken API key or private key",
  provider: "Kraken",
  words: ["kraken"],
  value: /[A-Za-z0-9/=+_-]{80,90}/,
  minBits: 4,
  revoke: "delete the key in Kraken (Settings, API) and create a new one",
});
