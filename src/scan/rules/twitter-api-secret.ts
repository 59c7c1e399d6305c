import { keywordRule } from "../keyword-rule.js";

/**
 * X (Twitter) API credentials assigned to a Twitter name: API key (25), API secret (50), access
 * token (numeric user id, a dash, 20 to 40) and access token secret (45).
 */
export default keywordRule({
  id: "twitter-api-secret",
  title: "X (Twitter) API key, secret or access token",
  provider: "X (Twitter)",
  words: ["twitter"],
  value: /[A-Za-z0-9]{50}|[A-Za-z0-9]{45}|[A-Za-z0-9]{25}|[0-9]{15,25}-[A-Za-z0-9]{20,40}/,
  wordBits: 3.65,
  minBits: 3.5,
  revoke: "regenerate the keys and tokens in the X developer portal (Keys and tokens)",
});
