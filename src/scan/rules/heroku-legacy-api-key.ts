import { keywordRule } from "../keyword-rule.js";

// Keys made before `HRKU-` tokens are UUIDs.
export default keywordRule({
  id: "heroku-legacy-api-key",
  title: "Heroku API key (UUID)",
  provider: "Heroku",
  words: ["heroku"],
  value: /[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}/,
  revoke:
    "regenerate the API key in Heroku (Account settings) or revoke it with heroku authorizations:revoke",
});
