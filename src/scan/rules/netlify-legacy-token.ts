import { keywordRule } from "../keyword-rule.js";

/** A Netlify token from before the `nfp_` prefix: 40 to 46 characters, or 64 hex, assigned to a Netlify name. */
export default keywordRule({
  id: "netlify-legacy-token",
  title: "Netlify access token (unprefixed)",
  provider: "Netlify",
  words: ["netlify"],
  value: /[a-f0-9]{64}|[A-Za-z0-9_-]{40,46}/,
  minBits: 3.5,
  // Prefixed tokens are netlify-token's.
  except: /^nfp_/,
  revoke: "delete the token in Netlify (User settings, Applications) and create a new one",
});
