import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "planetscale-token",
  title: "PlanetScale service token, OAuth token or password",
  provider: "PlanetScale",
  keywords: ["pscale_tkn_", "pscale_oauth_", "pscale_pw_"],
  pattern: /(?<![\w-])pscale_(?:tkn|oauth|pw)_[\w.=-]{32,64}(?![\w.=-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(secret.indexOf("_", 7) + 1)),
  revoke:
    "delete the service token or password in PlanetScale (organization or branch settings) and create a new one",
});
