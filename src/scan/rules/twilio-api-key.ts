import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "twilio-api-key",
  title: "Twilio API key",
  provider: "Twilio",
  keywords: ["SK"],
  pattern: /(?<![A-Za-z0-9])SK[0-9a-f]{32}(?![A-Za-z0-9])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(2)),
  revoke: "delete the API key in the Twilio console and create a new one",
});
