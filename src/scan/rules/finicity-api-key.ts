import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "finicity-api-key",
  title: "Finicity app key or partner secret",
  provider: "Finicity",
  words: ["finicity"],
  value: /[a-f0-9]{32}|[A-Za-z0-9]{20}/,
  wordBits: 3.4,
  revoke:
    "rotate the app key or partner secret in the Mastercard Open Banking (Finicity) developer dashboard",
});
