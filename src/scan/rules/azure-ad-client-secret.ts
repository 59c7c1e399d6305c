import { defineRule } from "../rule.js";

export default defineRule({
  id: "azure-ad-client-secret",
  title: "Azure AD (Entra ID) client secret",
  provider: "Azure",
  keywords: ["Q~"],
  pattern: /(?<![\w~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![\w~.-])/g,
  revoke:
    "delete the client secret in Entra ID (App registrations, Certificates and secrets) and create a new one",
});
