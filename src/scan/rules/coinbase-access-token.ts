import { assignedKeyRule } from "../assigned-key.js";

export default assignedKeyRule({
  id: "coinbase-access-token",
  title: "Coinbase API key",
  provider: "Coinbase",
  names: ["coinbase"],
  value: /[A-Za-z0-9_-]{64}/,
  revoke: "delete the API key in Coinbase (Settings, API) and create a new one",
});
