import { Secret, wipe } from "../secret/index.js";

/*
 * The one rule for text credentials, wherever a value enters or leaves keyhold (loadSecret,
 * loadSecretFile, set, import, vault put): exactly one final "\n" or "\r\n" is not part of the
 * value. `echo KEY > file`, `echo KEY | keyhold set NAME` and an editor's final line break all
 * give KEY; "KEY\n\n" gives "KEY\n". The byte-exact choice is explicit: --keep-newline on the
 * command line, `keepNewline: true` in the library.
 */

/** Drops one trailing "\n" or "\r\n" (a view of `bytes`, not a copy). */
export function withoutFinalNewline(bytes: Buffer): Buffer {
  if (bytes.at(-1) !== 0x0a) return bytes;
  return bytes.subarray(0, bytes.at(-2) === 0x0d ? -2 : -1);
}

/** Bytes read from a file or pipe as a Secret under the rule; `bytes` is wiped either way. */
export function secretFromText(bytes: Buffer, keepNewline = false): Secret {
  try {
    return Secret.fromBytes(keepNewline ? bytes : withoutFinalNewline(bytes));
  } finally {
    wipe(bytes);
  }
}

/** A loaded Secret under the rule: the same Secret when nothing is dropped, else a shorter one. */
export function applyNewlineRule(secret: Secret, keepNewline = false): Secret {
  if (keepNewline || secret.exposeBytes().at(-1) !== 0x0a) return secret;
  const shorter = Secret.fromBytes(withoutFinalNewline(secret.exposeBytes()));
  secret.dispose();
  return shorter;
}
