import { defineRule } from "../rule.js";

export default defineRule({
  id: "google-oauth-client-secret",
  title: "Google OAuth client secret",
  provider: "Google",
  keywords: ["GOCSPX-"],
  pattern: /(?<![\w-])GOCSPX-[A-Za-z0-9_-]{28}(?![\w-])/g,
  revoke: "reset the client secret in Google Cloud console (APIs and Services, Credentials)",
});
