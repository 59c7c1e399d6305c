import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "linkedin-client-secret",
  title: "LinkedIn client secret",
  provider: "LinkedIn",
  words: ["linkedin", "linked_in", "linked-in"],
  nameHas: /secret/i,
  value: /[A-Za-z0-9]{16}/,
  wordBits: 3.1,
  revoke: "generate a new client secret for the app in the LinkedIn developer portal (Auth)",
});
