import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "nuget-api-key",
  title: "NuGet.org API key",
  provider: "NuGet",
  keywords: ["oy2"],
  pattern: /(?<![A-Za-z0-9])oy2[a-z0-9]{43}(?![A-Za-z0-9])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(3)) && /\d/.test(secret.slice(3)),
  revoke: "delete the key on nuget.org (API Keys) and create a new one",
});
