import { defineRule, plausibleKeyBody } from "../rule.js";

/** `tskey-<type>-<id>-<secret>`; types documented are api, auth, client, scim and webhook. */
export default defineRule({
  id: "tailscale-key",
  title: "Tailscale API, auth or OAuth client key",
  provider: "Tailscale",
  keywords: ["tskey-"],
  pattern: /(?<![\w-])tskey-[a-z]{2,20}-[0-9A-Za-z_]{8,40}-[0-9A-Za-z_]{16,60}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(secret.lastIndexOf("-") + 1)),
  revoke: "revoke the key in the Tailscale admin console (Settings, Keys) and generate a new one",
});
