import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "contentful-delivery-token",
  title: "Contentful delivery or preview API key",
  provider: "Contentful",
  words: ["contentful"],
  value: /[A-Za-z0-9_-]{43}/,
  revoke: "revoke the API key in Contentful (Settings, API keys) and create a new one",
});
