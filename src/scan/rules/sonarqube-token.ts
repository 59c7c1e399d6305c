import { defineRule, plausibleKeyBody } from "../rule.js";

/** SonarQube user (`squ_`), project analysis (`sqp_`) and global analysis (`sqa_`) tokens. */
export default defineRule({
  id: "sonarqube-token",
  title: "SonarQube token",
  provider: "SonarQube",
  keywords: ["squ_", "sqp_", "sqa_"],
  pattern: /(?<![\w-])sq[upa]_[a-f0-9]{40}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(4)),
  revoke: "revoke the token in SonarQube (My Account, Security) and generate a new one",
});
