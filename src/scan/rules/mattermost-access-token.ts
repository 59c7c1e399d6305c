import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "mattermost-access-token",
  title: "Mattermost personal access token",
  provider: "Mattermost",
  words: ["mattermost"],
  value: /[a-z0-9]{26}/,
  wordBits: 3.3,
  revoke: "delete the token in Mattermost (Profile, Security, Personal Access Tokens) and create a new one",
});
