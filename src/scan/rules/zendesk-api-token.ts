import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "zendesk-api-token",
  title: "Zendesk API token",
  provider: "Zendesk",
  words: ["zendesk"],
  value: /[A-Za-z0-9]{40}/,
  minBits: 3.5,
  revoke:
    "delete the token in Zendesk Admin Center (Apps and integrations, Zendesk API) and create a new one",
});
