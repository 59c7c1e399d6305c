// UTF-16 text without a byte-order mark (src/scan/utf16.ts), which decides whether a file full of
// NUL bytes is text to scan or binary to skip.
// Mode 0 (first byte even): the bytes as a file. Invariants: nothing is thrown; bytes not guessed
// as UTF-16 (and without a BOM) come back unchanged; a guess of little-endian means 7 in 8 of the
// sampled units had a NUL high byte (big-endian: low byte), and none was a NUL character.
// Mode 1 (odd): the bytes made printable ASCII, written as UTF-16LE and UTF-16BE without a BOM.
// Invariant: 4 characters or more are guessed in the right order and decode to the same text.
import { fromUtf16, guessUtf16 } from "../../dist/src/scan/utf16.js";
import { check } from "../support.mjs";

export function fuzz(data) {
  if (data.length === 0) return;
  const body = Buffer.from(data.subarray(1));
  if ((data[0] & 1) === 0) {
    const guess = guessUtf16(body);
    const out = fromUtf16(body);
    const bom = (body[0] === 0xff && body[1] === 0xfe) || (body[0] === 0xfe && body[1] === 0xff);
    if (guess === undefined && !bom) check(out === body, "bytes that are not UTF-16 are not changed");
    if (guess !== undefined) {
      const units = Math.min(256, body.length >>> 1);
      let zeroHigh = 0;
      for (let i = 0; i < units; i++) {
        const [lo, hi] =
          guess === "utf-16le" ? [body[2 * i], body[2 * i + 1]] : [body[2 * i + 1], body[2 * i]];
        check(lo !== 0 || hi !== 0, "no NUL character in the sample");
        if (hi === 0) zeroHigh++;
      }
      check(units >= 4 && zeroHigh * 8 >= units * 7, `${guess} guessed from ${zeroHigh} of ${units} units`);
    }
    return;
  }
  const text = Array.from(body, (b) => String.fromCharCode(0x20 + (b % 95))).join("");
  const le = Buffer.from(text, "utf16le");
  const be = Buffer.from(le).swap16();
  const enough = text.length >= 4;
  check(guessUtf16(le) === (enough ? "utf-16le" : undefined), "little-endian guessed");
  check(guessUtf16(be) === (enough ? "utf-16be" : undefined), "big-endian guessed");
  if (enough) {
    check(fromUtf16(le).toString("utf8") === text, "little-endian decodes to the text");
    check(fromUtf16(be).toString("utf8") === text, "big-endian decodes to the text");
  }
}
