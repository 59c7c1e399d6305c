import { assignedKeyRule } from "../assigned-key.js";

export default assignedKeyRule({
  id: "beamer-api-token",
  title: "Beamer API key",
  provider: "Beamer",
  names: ["beamer"],
  value: /b_[A-Za-z0-9=_-]{44}/,
  revoke: "delete the API key in Beamer (Settings, API) and create a new one",
});
