import { keywordRule } from "../keyword-rule.js";

// Keys are `aio_` and 28 letters and digits (older ones 32 hex digits).
export default keywordRule({
  id: "adafruit-io-key",
  title: "Adafruit IO key",
  provider: "Adafruit",
  words: ["adafruit", "aio_key"],
  value: /aio_[A-Za-z0-9]{28}|[a-f0-9]{32}/,
  revoke: "regenerate the key at io.adafruit.com (My Key) and update every device that uses it",
});
