import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "linear-api-key",
  title: "Linear API key",
  provider: "Linear",
  keywords: ["lin_api_"],
  pattern: /(?<![\w-])lin_api_[A-Za-z0-9]{40}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(8)),
  revoke: "revoke it in Linear (Settings, API) and create a new one",
});
