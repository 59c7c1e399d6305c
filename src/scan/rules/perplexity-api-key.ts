import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "perplexity-api-key",
  title: "Perplexity API key",
  provider: "Perplexity",
  keywords: ["pplx-"],
  pattern: /(?<![\w-])pplx-[A-Za-z0-9]{48}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(5)),
  revoke: "delete it in Perplexity (Settings, API) and create a new one",
});
