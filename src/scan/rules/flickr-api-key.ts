import { keywordRule } from "../keyword-rule.js";

export default keywordRule({
  id: "flickr-api-key",
  title: "Flickr API key",
  provider: "Flickr",
  words: ["flickr"],
  value: /[a-f0-9]{32}/,
  revoke: "delete the key in Flickr (App Garden, Your apps) and request a new one",
});
