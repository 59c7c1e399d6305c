// A program that needs an API key: it asks the keyhold library for it and never prints it.
// `keyhold run demo_api_key -- node examples/read-key.mjs` hands it the key through
// $CREDENTIALS_DIRECTORY; a systemd service with LoadCredentialEncrypted= does the same.
import { loadSecret } from "keyhold";

const key = await loadSecret("demo_api_key");
console.log(`loaded demo_api_key: ${key} (${key.byteLength} bytes)`); // ${key} prints [REDACTED]
// Use it with key.expose(), e.g. in an Authorization header, and wipe it when done.
key.dispose();
