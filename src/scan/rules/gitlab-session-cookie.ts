import { defineRule, lowEntropy } from "../rule.js";

export default defineRule({
  id: "gitlab-session-cookie",
  title: "GitLab session cookie",
  provider: "GitLab",
  keywords: ["_gitlab_session="],
  pattern: /_gitlab_session=(?<secret>[0-9a-z]{32})(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret, 3),
  revoke: "revoke the session in GitLab (User settings, Active sessions) or sign out",
});
