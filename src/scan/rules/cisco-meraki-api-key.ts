import { assignedKeyRule } from "../assigned-key.js";

export default assignedKeyRule({
  id: "cisco-meraki-api-key",
  title: "Cisco Meraki Dashboard API key",
  provider: "Cisco Meraki",
  names: ["meraki"],
  value: /[a-f0-9]{40}/,
  revoke: "revoke the key in the Meraki dashboard (My profile, API access) and generate a new one",
});
