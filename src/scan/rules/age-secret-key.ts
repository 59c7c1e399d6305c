import { defineRule } from "../rule.js";

export default defineRule({
  id: "age-secret-key",
  title: "age secret key",
  provider: "age",
  keywords: ["AGE-SECRET-KEY-1"],
  pattern: /AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}/g,
  revoke: "generate a new identity with age-keygen and re-encrypt what the old one protected",
});
