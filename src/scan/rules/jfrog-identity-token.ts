import { keywordRule } from "../keyword-rule.js";

// Reference tokens (`cmVmd…`, also 64 characters) and API keys (`AKCp…`) have their own rule.
export default keywordRule({
  id: "jfrog-identity-token",
  title: "JFrog identity token",
  provider: "JFrog",
  words: ["jfrog", "artifactory"],
  value: /[A-Za-z0-9]{64}/,
  minBits: 3.5,
  except: /^cmVmd/,
  revoke:
    "revoke the token in the JFrog Platform (Edit profile or Administration, Access tokens) and create a new one",
});
