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
  // An OpenSSH key's first body line is the same for every unencrypted key of a type (the
  // format's magic, cipher "none", the key count), so docs print it alone between the BEGIN and
  // END lines as a stand-in: an OpenSSH block counts only with a second body line.
  pattern:
    /-----BEGIN OPENSSH PRIVATE KEY-----\s*[A-Za-z0-9+/=]{40,}[ \t]*\r?\n[ \t]*[A-Za-z0-9+/=]{16,}|-----BEGIN(?! OPENSSH PRIVATE)[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:\r?\n[A-Za-z-]{1,64}:(?=([^\r\n]*))\1){0,16}\s*[A-Za-z0-9+/=]{40,}/g,
  revoke: "replace the key pair (new key, new certificate or authorized_keys entry) and revoke the old one",
  rewrite: "-----BEGIN[ A-Z0-9]*PRIVATE KEY[\\s\\S]*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
});
