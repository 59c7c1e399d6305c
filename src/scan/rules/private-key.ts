import { defineRule } from "../rule.js";

export default defineRule({
  id: "private-key",
  title: "private key (PEM block)",
  provider: "the key's owner",
  keywords: ["PRIVATE KEY"],
  // The header alone (in docs or code that parses keys) is not a leak: a body must follow.
  pattern:
    /-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?:\r?\n[A-Za-z-]+:[^\r\n]*)*\s*[A-Za-z0-9+/=]{40,}/g,
  revoke: "replace the key pair (new key, new certificate or authorized_keys entry) and revoke the old one",
  rewrite: "-----BEGIN[ A-Z0-9]*PRIVATE KEY[\\s\\S]*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
});
