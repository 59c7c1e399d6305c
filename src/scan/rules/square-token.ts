import { defineRule } from "../rule.js";

export default defineRule({
  id: "square-token",
  title: "Square access token or secret",
  provider: "Square",
  keywords: ["sq0atp-", "sq0csp-"],
  pattern: /(?<![\w-])(?:sq0atp-[A-Za-z0-9_-]{22}|sq0csp-[A-Za-z0-9_-]{43})(?![\w-])/g,
  revoke: "replace the credential in the Square Developer dashboard",
});
