import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "openshift-user-token",
  title: "OpenShift user token",
  provider: "OpenShift",
  keywords: ["sha256~"],
  pattern: /(?<![\w-])sha256~[\w-]{43}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(7)),
  revoke: "delete the OAuth access token (oc delete oauthaccesstoken, or oc logout) and log in again",
});
