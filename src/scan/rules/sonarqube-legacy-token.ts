import { keywordRule } from "../keyword-rule.js";

/** A SonarQube token from before the `squ_`/`sqp_`/`sqa_` prefixes, in `sonar.login` or `SONAR_TOKEN`. */
export default keywordRule({
  id: "sonarqube-legacy-token",
  title: "SonarQube token (unprefixed)",
  provider: "SonarQube",
  words: ["sonar"],
  nameHas: /login|token/i,
  value: /[a-f0-9]{40}/,
  revoke: "revoke the token in SonarQube (My Account, Security) and generate a new one",
});
