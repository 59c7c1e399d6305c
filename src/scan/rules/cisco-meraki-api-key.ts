import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "cisco-meraki-api-key",
  title: "Cisco Meraki Dashboard API key",
  provider: "Cisco Meraki",
  words: ["meraki"],
  value: /[a-f0-9]{40}/,
  revoke: "revoke the key in the Meraki dashboard (My profile, API access) and generate a new one",
});
