import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "twitch-api-token",
  title: "Twitch client secret or access token",
  provider: "Twitch",
  words: ["twitch"],
  value: /[a-z0-9]{30}/,
  minBits: 3.5,
  revoke:
    "generate a new client secret in the Twitch developer console, or revoke the token at id.twitch.tv/oauth2/revoke",
});
