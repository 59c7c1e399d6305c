import { assignedKeyRule } from "../assigned-key.js";

export default assignedKeyRule({
  id: "bitbucket-client-secret",
  title: "Bitbucket OAuth consumer key or secret",
  provider: "Bitbucket",
  names: ["bitbucket"],
  value: /[A-Za-z0-9=_-]{64}|[A-Za-z0-9]{32}/,
  revoke: "regenerate the consumer secret in Bitbucket (Workspace settings, OAuth consumers)",
});
