import { defineRule, lowEntropy } from "../rule.js";

// `LTAI` and 12 to 20 letters and digits (`LTAI5t…` today).
export default defineRule({
  id: "alibaba-access-key-id",
  title: "Alibaba Cloud AccessKey ID",
  provider: "Alibaba Cloud",
  keywords: ["LTAI"],
  pattern: /(?<![\w-])LTAI[A-Za-z0-9]{12,20}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(4), 2.5) && !/example/i.test(secret),
  revoke: "disable and delete the AccessKey pair in the Alibaba Cloud RAM console, then create a new one",
});
