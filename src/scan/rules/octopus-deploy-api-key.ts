import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "octopus-deploy-api-key",
  title: "Octopus Deploy API key",
  provider: "Octopus Deploy",
  keywords: ["API-"],
  // Upper case and digits only, so words such as GSSAPI-… or API-Calculator do not count.
  pattern: /(?<![\w-])API-[A-Z0-9]{26}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(4)) && /\d/.test(secret.slice(4)),
  revoke: "revoke the key in Octopus Deploy (your profile, My API Keys) and create a new one",
});
