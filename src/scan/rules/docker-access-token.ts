import { defineRule, lowEntropy } from "../rule.js";

// Personal (`dckr_pat_`) and organization (`dckr_oat_`) access tokens.
export default defineRule({
  id: "docker-access-token",
  title: "Docker Hub access token",
  provider: "Docker",
  keywords: ["dckr_pat_", "dckr_oat_"],
  pattern: /(?<![\w-])dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,32}(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(9), 3),
  revoke: "delete the token in Docker Hub (Account settings, Personal access tokens) and create a new one",
});
