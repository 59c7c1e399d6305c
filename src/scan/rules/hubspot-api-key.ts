import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "hubspot-api-key",
  title: "HubSpot API key (legacy)",
  provider: "HubSpot",
  words: ["hubspot", "hapikey"],
  value: /[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}/,
  revoke:
    "API keys are retired: deactivate it in HubSpot (Settings, Integrations, API key) and use a private app token",
});
