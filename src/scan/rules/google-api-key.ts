import { KEY_PREFIXES } from "../../secret/index.js";
import { defineRule } from "../rule.js";

export default defineRule({
  id: "google-api-key",
  title: "Google API key",
  provider: "Google",
  keywords: KEY_PREFIXES.google.prefixes,
  pattern: /(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])/g,
  revoke: "delete or regenerate the key in Google Cloud console (APIs and Services, Credentials)",
});
