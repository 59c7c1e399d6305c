import { keywordRule } from "../keyword-rule.js";

/** Lob secret keys (`live_` or `test_` and 35 hex); `…_pub_` publishable keys are not secret. */
export default keywordRule({
  id: "lob-api-key",
  title: "Lob API key",
  provider: "Lob",
  words: ["lob"],
  wordStart: true,
  value: /(?:live|test)_[a-f0-9]{35}/,
  revoke: "roll the key in the Lob dashboard (Settings, API Keys)",
});
