import { defineRule } from "../rule.js";

export default defineRule({
  id: "digitalocean-token",
  title: "DigitalOcean token",
  provider: "DigitalOcean",
  keywords: ["dop_v1_", "doo_v1_", "dor_v1_"],
  pattern: /(?<![\w-])do[por]_v1_[a-f0-9]{64}(?![\w-])/g,
  revoke: "delete the token in the DigitalOcean control panel (API) and create a new one",
});
