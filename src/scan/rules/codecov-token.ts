import { keywordRule } from "../keyword-rule.js";

// Upload tokens are UUIDs; gitleaks also knows 32-character tokens.
export default keywordRule({
  id: "codecov-token",
  title: "Codecov upload or API token",
  provider: "Codecov",
  words: ["codecov"],
  value: /[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}|[a-z0-9]{32}/,
  revoke: "regenerate the token in Codecov (repository or organization settings)",
});
