import { defineRule, lowEntropy } from "../rule.js";

// OAuth tokens `fo1_…` and macaroons `fm1a_`, `fm1r_`, `fm2_…` (a `FlyV1` header holds several,
// separated by commas; each is reported).
export default defineRule({
  id: "flyio-token",
  title: "Fly.io access token",
  provider: "Fly.io",
  keywords: ["fo1_", "fm1a_", "fm1r_", "fm2_"],
  pattern:
    /(?<![\w+/-])(?:fo1_[A-Za-z0-9_-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,4000}={0,3}|fm2_[A-Za-z0-9+/]{100,4000}={0,3})(?![\w+/=-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(secret.indexOf("_") + 1), 3.5),
  revoke: "revoke the token with fly tokens revoke (or in the Fly.io dashboard, Tokens) and create a new one",
});
