import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "prefect-api-key",
  title: "Prefect Cloud API key",
  provider: "Prefect",
  keywords: ["pnu_"],
  pattern: /(?<![\w-])pnu_[A-Za-z0-9]{36}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(4)),
  revoke: "delete the key in Prefect Cloud (profile, API keys) and create a new one",
});
