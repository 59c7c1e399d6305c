import { defineRule, plausibleKeyBody } from "../rule.js";

/**
 * Sidekiq Pro/Enterprise gem server credentials (`user:password`, 8 hex each): in Bundler's
 * environment variable or config, in `bundle config gems.contribsys.com …`, or in the gem source URL.
 */
export default defineRule({
  id: "sidekiq-credentials",
  title: "Sidekiq Pro/Enterprise gem server credentials",
  provider: "Contributed Systems (Sidekiq)",
  keywords: ["contribsys", "CONTRIBSYS"],
  pattern:
    /(?:BUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM["']?[ \t]{0,4}[=:][ \t]{0,4}["']?|(?:enterprise|gems)\.contribsys\.com[ \t]{1,4}["']?|https?:\/\/(?=[a-f0-9]{8}:[a-f0-9]{8}@(?:enterprise|gems)\.contribsys\.com(?![\w.-])))(?<secret>[a-f0-9]{8}:[a-f0-9]{8})(?![\w:-])/g,
  confirm: (secret) => plausibleKeyBody(secret, 2.5),
  revoke:
    "ask Contributed Systems to reset the Sidekiq Pro/Enterprise credentials and update Bundler's config",
});
