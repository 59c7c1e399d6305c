import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "droneci-access-token",
  title: "Drone CI access token",
  provider: "Drone CI",
  words: ["droneci", "drone_token"],
  value: /[A-Za-z0-9]{32}/,
  revoke: "rotate the token in Drone (Account settings) and update every client that uses it",
});
