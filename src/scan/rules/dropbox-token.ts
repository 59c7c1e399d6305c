import { keywordRule } from "../keyword-rule.js";

// Short-lived tokens are `sl.` and 130 or more characters; long-lived ones hold ten A's.
export default keywordRule({
  id: "dropbox-token",
  title: "Dropbox access token",
  provider: "Dropbox",
  words: ["dropbox"],
  value: /sl\.[A-Za-z0-9._=-]{130,1400}|[A-Za-z0-9]{11}AAAAAAAAAA[A-Za-z0-9_=-]{43}/,
  revoke: "revoke the token in the Dropbox App Console (or unlink the app) and create a new one",
});
