import { keywordRule } from "../keyword-rule.js";

// Search-only keys are meant to be public; admin and write keys are not, and look the same.
export default keywordRule({
  id: "algolia-api-key",
  title: "Algolia API key",
  provider: "Algolia",
  words: ["algolia"],
  value: /[a-f0-9]{32}/,
  revoke:
    "regenerate the key in the Algolia dashboard (Settings, API keys); a search-only key is public by design",
});
