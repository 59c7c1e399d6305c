import { defineRule } from "../rule.js";

export default defineRule({
  id: "azure-storage-account-key",
  title: "Azure storage account key",
  provider: "Azure",
  keywords: ["AccountKey="],
  pattern: /AccountKey=(?<secret>[A-Za-z0-9+/]{86}==)/g,
  revoke: "rotate the storage account access key in the Azure portal (Access keys)",
});
