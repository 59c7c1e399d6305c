import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "rubygems-api-key",
  title: "RubyGems.org API key",
  provider: "RubyGems",
  keywords: ["rubygems_"],
  pattern: /(?<![\w-])rubygems_[a-f0-9]{48}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(9)),
  revoke: "delete the key on rubygems.org (Settings, API keys) and create a new one",
});
