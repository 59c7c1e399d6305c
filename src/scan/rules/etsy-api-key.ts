import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "etsy-api-key",
  title: "Etsy API keystring",
  provider: "Etsy",
  words: ["etsy"],
  value: /[a-z0-9]{24}/,
  minBits: 2.5,
  revoke: "reset the keystring in Etsy (Your apps) and update the app",
});
