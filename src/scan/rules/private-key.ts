import { defineRule } from "../rule.js";

export default defineRule({
  id: "private-key",
  title: "private key (PEM block)",
  provider: "the key's owner",
  keywords: ["PRIVATE KEY"],
  // The header alone (in docs or code that parses keys) is not a leak: a body must follow.
  // Linear on hostile input: at most 16 RFC 1421 header lines (Proc-Type:, DEK-Info:, Comment:),
  // each read once (the lookahead and back-reference make it possessive, so a failed body never
  // re-reads a header line), so a file of header lines that each hold another BEGIN line costs
  // a bounded amount per BEGIN.
  //
  // Every unencrypted OpenSSH key begins with the same bytes (the format's magic, cipher "none",
  // one key), so its first body line is the same in every such key, and docs print that line
  // alone between the BEGIN and END lines as a stand-in: that block is not a key.
  pattern:
    /-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?!\s*b3BlbnNzaC1rZXktdjEAAAAA[A-Za-z0-9+/=]*[ \t]*\r?\n[ \t]*-----END)(?:\r?\n[A-Za-z-]{1,64}:(?=([^\r\n]*))\1){0,16}\s*[A-Za-z0-9+/=]{40,}/g,
  revoke: "replace the key pair (new key, new certificate or authorized_keys entry) and revoke the old one",
  rewrite: "-----BEGIN[ A-Z0-9]*PRIVATE KEY[\\s\\S]*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
});
