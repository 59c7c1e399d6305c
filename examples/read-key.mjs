// A program that needs an API key: it asks the keyhold library for it and never prints it.
// `keyhold run demo_api_key -- node examples/read-key.mjs` hands it the key through
// $CREDENTIALS_DIRECTORY; a systemd service with LoadCredentialEncrypted= does the same.
import { loadSecret } from "keyhold";

const key = await loadSecret("demo_api_key");
console.log(`loaded demo_api_key: ${key} (${key.byteLength} bytes)`); // prints [REDACTED]
// verify() compares in constant time; the demo passes the expected value to show the key arrived.
console.log(`it matches the value that was set: ${key.verify(process.argv[2] ?? "")}`);
key.dispose();
