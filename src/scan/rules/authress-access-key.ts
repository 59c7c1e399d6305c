import { defineRule, lowEntropy } from "../rule.js";

// Service client id, access key id, account id (`acc_…`) and signing key, joined by dots.
export default defineRule({
  id: "authress-access-key",
  title: "Authress service client access key",
  provider: "Authress",
  keywords: ["sc_", "ext_", "scauth_", "authress_"],
  pattern:
    /(?<![\w-])(?:sc|ext|scauth|authress)_[A-Za-z0-9]{5,30}\.[A-Za-z0-9]{4,6}\.acc[_-][A-Za-z0-9-]{10,32}\.[A-Za-z0-9+/_=-]{30,120}(?![\w+/=-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(secret.lastIndexOf(".") + 1), 3),
  revoke:
    "delete the access key of the service client in the Authress management portal and create a new one",
});
