import { defineRule, lowEntropy } from "../rule.js";

// Secret keys are `FLWSECK-…-X` (`FLWSECK_TEST-…-X` in test mode); encryption keys hold 12
// characters. Public keys (`FLWPUBK…`) are public.
export default defineRule({
  id: "flutterwave-secret-key",
  title: "Flutterwave secret or encryption key",
  provider: "Flutterwave",
  keywords: ["FLWSECK"],
  pattern: /(?<![\w-])FLWSECK(?:_TEST)?-?(?:[a-h0-9]{32}-X|[a-h0-9]{12})(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.replace(/^FLWSECK(?:_TEST)?-?/, "").replace(/-X$/, "")),
  revoke: "regenerate the API keys in the Flutterwave dashboard (Settings, API keys)",
});
