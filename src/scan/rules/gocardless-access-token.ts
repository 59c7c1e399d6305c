import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "gocardless-access-token",
  title: "GoCardless access token",
  provider: "GoCardless",
  words: ["gocardless"],
  value: /(?:live|sandbox)_[A-Za-z0-9_=-]{40}/,
  revoke:
    "revoke the access token in the GoCardless dashboard (Developers, Access tokens) and create a new one",
});
