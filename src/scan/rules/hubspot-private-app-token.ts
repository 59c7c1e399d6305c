import { defineRule, lowEntropy } from "../rule.js";

// `pat-<region><n>-` and a UUID.
export default defineRule({
  id: "hubspot-private-app-token",
  title: "HubSpot private app access token",
  provider: "HubSpot",
  keywords: ["pat-na", "pat-eu", "pat-ap"],
  pattern:
    /(?<![\w-])pat-(?:na|eu|ap)\d-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(8), 3),
  revoke: "rotate the private app's access token in HubSpot (Settings, Integrations, Private apps)",
});
