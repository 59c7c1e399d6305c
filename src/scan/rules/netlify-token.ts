import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "netlify-token",
  title: "Netlify personal access token",
  provider: "Netlify",
  keywords: ["nfp_"],
  pattern: /(?<![\w-])nfp_[A-Za-z0-9]{36,40}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(4), 3.3),
  revoke: "delete the token in Netlify (User settings, Applications) and create a new one",
});
