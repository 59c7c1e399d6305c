import { assignedKeyRule } from "../assigned-key.js";

export default assignedKeyRule({
  id: "cohere-api-key",
  title: "Cohere API key",
  provider: "Cohere",
  names: ["cohere", "co_api_key"],
  value: /[A-Za-z0-9]{40}/,
  minBits: 4,
  revoke: "delete the key in the Cohere dashboard (API keys) and create a new one",
});
