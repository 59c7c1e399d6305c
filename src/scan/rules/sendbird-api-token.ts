import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "sendbird-api-token",
  title: "Sendbird API token",
  provider: "Sendbird",
  words: ["sendbird"],
  value: /[a-f0-9]{40}/,
  revoke: "revoke the API token in the Sendbird dashboard (Settings, General) and create a new one",
});
