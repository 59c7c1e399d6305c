import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "alibaba-access-key-secret",
  title: "Alibaba Cloud AccessKey secret",
  provider: "Alibaba Cloud",
  words: ["alibaba", "aliyun", "accesskeysecret", "access_key_secret"],
  value: /[A-Za-z0-9]{30}/,
  wordBits: 4,
  revoke: "disable and delete the AccessKey pair in the Alibaba Cloud RAM console, then create a new one",
});
