import { keywordRule } from "../keyword-rule.js";

/** An Okta API token (SSWS): `00` and 40 characters. */
export default keywordRule({
  id: "okta-api-token",
  title: "Okta API token",
  provider: "Okta",
  words: ["okta"],
  wordStart: true,
  value: /00[A-Za-z0-9_=-]{40}/,
  minBits: 3.5,
  revoke: "revoke the token in the Okta Admin Console (Security, API, Tokens) and create a new one",
});
