import { KEY_PREFIXES } from "../../secret/index.js";
import { defineRule } from "../rule.js";

export default defineRule({
  id: "aws-access-key-id",
  title: "AWS access key ID",
  provider: "AWS",
  keywords: KEY_PREFIXES.aws.prefixes,
  pattern: /(?<![A-Z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])/g,
  revoke: "deactivate and delete the access key in IAM, then create a new one",
  // AWS documentation uses keys ending in EXAMPLE.
  confirm: (secret) => !secret.endsWith("EXAMPLE"),
});
