import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "bitbucket-client-secret",
  title: "Bitbucket OAuth consumer key or secret",
  provider: "Bitbucket",
  words: ["bitbucket"],
  value: /[A-Za-z0-9=_-]{64}|[A-Za-z0-9]{32}/,
  revoke: "regenerate the consumer secret in Bitbucket (Workspace settings, OAuth consumers)",
});
