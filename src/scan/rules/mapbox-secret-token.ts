import { defineRule } from "../rule.js";

/**
 * A Mapbox secret token (`sk.` and a base64url payload naming the user, then a signature). Public
 * `pk.` tokens are meant to ship in web pages and are not reported.
 */
export default defineRule({
  id: "mapbox-secret-token",
  title: "Mapbox secret access token",
  provider: "Mapbox",
  keywords: ["sk.eyJ"],
  pattern: /(?<![\w.-])sk\.eyJ1Ijoi[A-Za-z0-9_-]{10,300}\.[A-Za-z0-9_-]{22}(?![\w.-])/g,
  revoke: "delete the token on account.mapbox.com (Access tokens) and create a new one",
});
