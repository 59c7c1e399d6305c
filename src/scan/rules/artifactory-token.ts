import { defineRule, lowEntropy } from "../rule.js";

// API keys are `AKCp` and 69 characters; reference tokens are base64 of `reftkn:…` (`cmVmd…`).
export default defineRule({
  id: "artifactory-token",
  title: "JFrog Artifactory API key or reference token",
  provider: "JFrog",
  keywords: ["AKCp", "cmVmd"],
  pattern: /(?<![\w-])(?:AKCp[A-Za-z0-9]{69}|cmVmd[A-Za-z0-9]{59})(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(5), 4),
  revoke: "revoke it in the JFrog Platform (Edit profile, API key or Access tokens) and create a new one",
});
