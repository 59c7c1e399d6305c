import { defineRule, lowEntropy } from "../rule.js";

// `ops_` and base64 of a JSON object (`eyJ` is `{"`).
export default defineRule({
  id: "1password-service-account-token",
  title: "1Password service account token",
  provider: "1Password",
  keywords: ["ops_eyJ"],
  pattern: /(?<![\w+/-])ops_eyJ[A-Za-z0-9+/]{100,2000}={0,3}(?![\w+/=-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(7), 4),
  revoke:
    "delete the service account's token in 1Password (Developer, Service accounts) and create a new one",
});
