import { defineRule, lowEntropy } from "../rule.js";

// `1/<user id>:<32 hex>` (older `0/…`), or `2/<user id>/<token id>:<32 hex>`.
export default defineRule({
  id: "asana-personal-access-token",
  title: "Asana personal access token",
  provider: "Asana",
  keywords: ["0/", "1/", "2/"],
  pattern: /(?<![\w/])[012]\/\d{10,20}(?:\/\d{10,20})?:[a-f0-9]{32}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(secret.indexOf(":") + 1), 3),
  revoke: "deauthorize the token in Asana (My settings, Apps, Developer apps) and create a new one",
});
