import { defineRule, lowEntropy } from "../rule.js";

// User, page and app tokens of the Graph API start `EAA`; each needs upper and lower case and
// a digit, which a run of base64 padding or a word does not have.
export default defineRule({
  id: "facebook-access-token",
  title: "Facebook (Meta) access token",
  provider: "Meta",
  keywords: ["EAA"],
  pattern: /(?<![\w+/-])EAA[A-Za-z0-9]{100,1000}(?![\w+/=-])/g,
  confirm: (secret) =>
    /[A-Z]/.test(secret.slice(3)) &&
    /[a-z]/.test(secret) &&
    /[0-9]/.test(secret) &&
    !lowEntropy(secret.slice(3), 4),
  revoke:
    "invalidate the token (reset the app secret, or remove the app in the account's business integrations) and issue a new one",
});
