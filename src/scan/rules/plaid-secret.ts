import { keywordRule } from "../keyword-rule.js";

/** A Plaid API secret (30 characters); the 24-character client id beside it is not secret. */
export default keywordRule({
  id: "plaid-secret",
  title: "Plaid API secret",
  provider: "Plaid",
  words: ["plaid"],
  value: /[a-z0-9]{30}/,
  revoke: "rotate the secret in the Plaid dashboard (Developers, Keys)",
});
