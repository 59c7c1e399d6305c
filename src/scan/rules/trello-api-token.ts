import { keywordRule } from "../keyword-rule.js";

/** A Trello API key (32 hex), secret or user token (64 hex); the key alone is public but the others are not. */
export default keywordRule({
  id: "trello-api-token",
  title: "Trello API key, secret or token",
  provider: "Trello",
  words: ["trello"],
  value: /[a-f0-9]{64}|[A-Za-z0-9]{32}/,
  revoke: "revoke the token in Trello (Account, Applications) or regenerate the Power-Up's secret",
});
