import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "typeform-api-token",
  title: "Typeform personal access token",
  provider: "Typeform",
  keywords: ["tfp_"],
  pattern: /(?<![\w-])tfp_[A-Za-z0-9_.=-]{59}(?![\w.=-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(4)),
  revoke: "delete the token in Typeform (Account, Personal tokens) and generate a new one",
});
