import { defineRule } from "../rule.js";

export default defineRule({
  id: "heroku-api-key",
  title: "Heroku API key",
  provider: "Heroku",
  keywords: ["HRKU-"],
  pattern: /(?<![\w-])HRKU-AA[0-9A-Za-z_-]{58}(?![\w-])/g,
  revoke: "revoke it with heroku authorizations:revoke and create a new one",
});
