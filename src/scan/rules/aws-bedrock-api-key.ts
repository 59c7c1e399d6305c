import { defineRule, lowEntropy } from "../rule.js";

// Long-term keys are `ABSK` and base64; short-term ones `bedrock-api-key-` and a base64 presigned URL
// (`YmVkcm9jay5hbWF6b25hd3MuY29t` is `bedrock.amazonaws.com`).
export default defineRule({
  id: "aws-bedrock-api-key",
  title: "Amazon Bedrock API key",
  provider: "AWS",
  keywords: ["ABSK", "bedrock-api-key-"],
  pattern:
    /(?<![\w+/-])(?:ABSK[A-Za-z0-9+/]{109,269}={0,2}|bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/]{20,4000}={0,2})(?![\w+/=-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(-100), 3.5),
  revoke:
    "delete the API key in the Amazon Bedrock console (API keys) or the IAM user's service-specific credential; short-term keys expire with the session that made them",
});
