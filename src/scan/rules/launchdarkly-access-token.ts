import { keywordRule } from "../keyword-rule.js";

/** LaunchDarkly access tokens (`api-`), server-side SDK keys (`sdk-`) and mobile keys (`mob-`): a prefix and a UUID. */
export default keywordRule({
  id: "launchdarkly-access-token",
  title: "LaunchDarkly access token or SDK key",
  provider: "LaunchDarkly",
  words: ["launchdarkly", "launch_darkly", "launch-darkly", "ld_sdk", "ld_api", "ld_mobile"],
  value: /(?:api|sdk|mob)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/,
  revoke: "reset the key (environment settings) or delete the access token (Authorization) in LaunchDarkly",
});
