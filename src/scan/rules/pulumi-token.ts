import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "pulumi-token",
  title: "Pulumi access token",
  provider: "Pulumi",
  keywords: ["pul-"],
  pattern: /(?<![\w-])pul-[a-f0-9]{40}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(4)),
  revoke: "delete it in Pulumi Cloud (Access Tokens) and create a new one",
});
