import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "looker-client-secret",
  title: "Looker API client secret",
  provider: "Looker",
  words: ["looker"],
  nameHas: /secret/i,
  value: /[A-Za-z0-9]{24}/,
  wordBits: 3.6,
  revoke: "delete the API key of the user in Looker (Admin, Users, Edit Keys) and create a new one",
});
