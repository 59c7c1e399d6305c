import { defineRule, plausibleKeyBody } from "../rule.js";

export default defineRule({
  id: "settlemint-token",
  title: "SettleMint access token",
  provider: "SettleMint",
  keywords: ["sm_aat_", "sm_pat_", "sm_sat_"],
  pattern: /(?<![\w-])sm_(?:aat|pat|sat)_[A-Za-z0-9]{16}(?![\w-])/g,
  confirm: (secret) => plausibleKeyBody(secret.slice(7)),
  revoke: "delete the access token in the SettleMint console and create a new one",
});
