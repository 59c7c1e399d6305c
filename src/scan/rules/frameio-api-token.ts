import { defineRule, lowEntropy } from "../rule.js";

export default defineRule({
  id: "frameio-api-token",
  title: "Frame.io developer token",
  provider: "Frame.io",
  keywords: ["fio-u-"],
  pattern: /(?<![\w-])fio-u-[A-Za-z0-9_=-]{64}(?![\w=-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(6), 3),
  revoke: "delete the token in the Frame.io developer site (Tokens) and create a new one",
});
