import { defineRule, plausibleKeyBody } from "../rule.js";

/** Vercel's prefixed tokens: personal (vcp_), integration (vci_), app access (vca_), refresh (vcr_), API key (vck_). */
export default defineRule({
  id: "vercel-token",
  title: "Vercel access token",
  provider: "Vercel",
  keywords: ["vcp_", "vci_", "vca_", "vcr_", "vck_"],
  pattern: /(?<![\w-])vc[piark]_[A-Za-z0-9]{20,60}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(4), 3.3),
  revoke: "delete the token in Vercel (Account Settings, Tokens) and create a new one",
});
