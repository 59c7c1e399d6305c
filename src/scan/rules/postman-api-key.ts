import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "postman-api-key",
  title: "Postman API key",
  provider: "Postman",
  keywords: ["PMAK-"],
  pattern: /(?<![\w-])PMAK-[a-f0-9]{24}-[a-f0-9]{34}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(5)),
  revoke: "regenerate or delete the key in Postman (Settings, API keys)",
});
