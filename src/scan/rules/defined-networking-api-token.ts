import { defineRule, lowEntropy } from "../rule.js";

export default defineRule({
  id: "defined-networking-api-token",
  title: "Defined Networking API key",
  provider: "Defined Networking",
  keywords: ["dnkey-"],
  pattern: /(?<![\w-])dnkey-[A-Za-z0-9=_-]{26}-[A-Za-z0-9=_-]{52}(?![\w=-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(6), 3),
  revoke: "delete the API key in the Defined Networking admin panel and create a new one",
});
