import { assignedKeyRule } from "../assigned-key.js";

export default assignedKeyRule({
  id: "flickr-api-key",
  title: "Flickr API key",
  provider: "Flickr",
  names: ["flickr"],
  value: /[a-f0-9]{32}/,
  revoke: "delete the key in Flickr (App Garden, Your apps) and request a new one",
});
