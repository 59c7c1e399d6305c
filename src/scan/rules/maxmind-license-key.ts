import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "maxmind-license-key",
  title: "MaxMind license key",
  provider: "MaxMind",
  keywords: ["_mmk"],
  pattern: /(?<![\w-])[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(0, -4)),
  revoke: "deactivate the key in your MaxMind account (Manage License Keys) and generate a new one",
});
