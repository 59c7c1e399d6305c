import { keywordRule } from "../keyword-rule.js";

/** A RapidAPI application key (sent as X-RapidAPI-Key): 50 characters. */
export default keywordRule({
  id: "rapidapi-key",
  title: "RapidAPI application key",
  provider: "RapidAPI",
  words: ["rapidapi", "rapid_api", "rapid-api"],
  value: /[A-Za-z0-9_-]{50}/,
  minBits: 3.5,
  revoke: "rotate the application key in RapidAPI (Apps, Authorization) and use the new one",
});
