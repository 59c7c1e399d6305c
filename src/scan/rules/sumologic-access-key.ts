import { keywordRule } from "../keyword-rule.js";

/** A Sumo Logic access key (64 characters); the `su…` access id beside it only names it. */
export default keywordRule({
  id: "sumologic-access-key",
  title: "Sumo Logic access key",
  provider: "Sumo Logic",
  words: ["sumologic", "sumo_logic", "sumo-logic", "sumo"],
  wordStart: true,
  value: /[A-Za-z0-9]{64}/,
  minBits: 3.5,
  revoke: "delete the access key in Sumo Logic (Preferences, Access Keys) and create a new one",
});
