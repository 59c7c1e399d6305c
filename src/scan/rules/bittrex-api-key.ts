import { assignedKeyRule } from "../assigned-key.js";

export default assignedKeyRule({
  id: "bittrex-api-key",
  title: "Bittrex API key or secret",
  provider: "Bittrex",
  names: ["bittrex"],
  value: /[a-f0-9]{32}/,
  revoke: "delete the API key in Bittrex (Account, API keys)",
});
