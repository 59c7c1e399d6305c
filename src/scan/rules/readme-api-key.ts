import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "readme-api-key",
  title: "ReadMe API key",
  provider: "ReadMe",
  keywords: ["rdme_"],
  pattern: /(?<![\w-])rdme_[a-z0-9]{70}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(5)),
  revoke: "revoke the key in the ReadMe dashboard (API Keys) and create a new one",
});
