import { defineRule, lowEntropy } from "../rule.js";

export default defineRule({
  id: "clojars-api-token",
  title: "Clojars deploy token",
  provider: "Clojars",
  keywords: ["CLOJARS_"],
  pattern: /(?<![\w-])CLOJARS_[A-Za-z0-9]{60}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(8), 3),
  revoke: "delete the deploy token at clojars.org/tokens and create a new one",
});
