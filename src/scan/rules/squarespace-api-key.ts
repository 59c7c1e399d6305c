import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "squarespace-api-key",
  title: "Squarespace API key",
  provider: "Squarespace",
  words: ["squarespace"],
  value: /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/,
  revoke: "revoke the key in Squarespace (Settings, Developer API keys) and create a new one",
});
