import { assignedKeyRule } from "../assigned-key.js";

export default assignedKeyRule({
  id: "finnhub-api-key",
  title: "Finnhub API key",
  provider: "Finnhub",
  names: ["finnhub"],
  value: /[a-z0-9]{20}/,
  minBits: 2.5,
  revoke: "regenerate the key in the Finnhub dashboard",
});
