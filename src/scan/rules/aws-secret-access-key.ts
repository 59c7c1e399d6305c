import { defineRule, looksLikePlaceholder } from "../rule.js";

export default defineRule({
  id: "aws-secret-access-key",
  title: "AWS secret access key",
  provider: "AWS",
  keywords: /secret.?access.?key/i,
  pattern:
    /secret[_.-]?access[_.-]?key["'\x60]?\s*(?::=|=>|=|:)\s*["'\x60]?(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/gi,
  revoke: "deactivate and delete the access key in IAM, then create a new one",
  // AWS documentation uses secrets ending in EXAMPLEKEY.
  confirm: (secret) =>
    !looksLikePlaceholder(secret) && !/EXAMPLE/i.test(secret) && /[0-9]/.test(secret) && /[A-Z]/.test(secret),
});
