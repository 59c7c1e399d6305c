import { keywordRule } from "../keyword-rule.js";

// API keys are 32 hex digits, application keys 40.
export default keywordRule({
  id: "datadog-api-key",
  title: "Datadog API or application key",
  provider: "Datadog",
  words: ["datadog", "dd_api_key", "dd_app_key", "dd_application_key", "dd-api-key"],
  value: /[a-f0-9]{40}|[a-f0-9]{32}/,
  revoke:
    "revoke the key in Datadog (Organization settings, API keys or Application keys) and create a new one",
});
