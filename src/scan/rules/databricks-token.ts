import { defineRule, lowEntropy } from "../rule.js";

export default defineRule({
  id: "databricks-token",
  title: "Databricks access token",
  provider: "Databricks",
  keywords: ["dapi"],
  // The hex digits are lower case in tokens Databricks shows, upper case in some tools' output.
  pattern: /(?<![\w-])dapi(?:[a-f0-9]{32}|[A-F0-9]{32})(?:-\d)?(?![\w-])/g,
  confirm: (secret) => !lowEntropy(secret.slice(4, 36), 3),
  revoke: "revoke it in Databricks (User Settings, Access tokens) and create a new one",
});
