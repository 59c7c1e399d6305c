import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "beamer-api-token",
  title: "Beamer API key",
  provider: "Beamer",
  words: ["beamer"],
  value: /b_[A-Za-z0-9=_-]{44}/,
  revoke: "delete the API key in Beamer (Settings, API) and create a new one",
});
