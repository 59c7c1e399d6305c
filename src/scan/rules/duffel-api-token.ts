import { defineRule, lowEntropy } from "../rule.js";

export default defineRule({
  id: "duffel-api-token",
  title: "Duffel access token",
  provider: "Duffel",
  keywords: ["duffel_test_", "duffel_live_"],
  pattern: /(?<![\w-])duffel_(?:test|live)_[A-Za-z0-9_=-]{43}(?![\w=-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(12), 3),
  revoke: "delete the token in the Duffel dashboard (Developers, Access tokens) and create a new one",
});
