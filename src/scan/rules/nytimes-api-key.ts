import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "nytimes-api-key",
  title: "New York Times API key",
  provider: "The New York Times",
  words: ["nytimes", "new_york_times", "new-york-times", "newyorktimes"],
  value: /[A-Za-z0-9_-]{32}/,
  minBits: 3.5,
  revoke: "delete the app's key on developer.nytimes.com (Apps) and create a new one",
});
