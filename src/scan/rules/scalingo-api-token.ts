import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "scalingo-api-token",
  title: "Scalingo API token",
  provider: "Scalingo",
  keywords: ["tk-us-"],
  pattern: /(?<![\w-])tk-us-[\w-]{48}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(6)),
  revoke: "delete the token in the Scalingo dashboard (Profile, API tokens) and create a new one",
});
