import { defineRule } from "../rule.js";

export default defineRule({
  id: "databricks-token",
  title: "Databricks access token",
  provider: "Databricks",
  keywords: ["dapi"],
  pattern: /(?<![\w-])dapi[a-f0-9]{32}(?:-\d)?(?![\w-])/g,
  revoke: "revoke it in Databricks (User Settings, Access tokens) and create a new one",
});
