/*
 * Text saved as UTF-16 is scanned as the text it is, not skipped as binary for its NUL bytes.
 * With a byte-order mark (Windows PowerShell's `>` and Out-File write .env files that way) the
 * mark says which order. Without one (`iconv -t UTF-16LE`, .NET's `Encoding.Unicode.GetBytes`
 * written to a file, some editors' "UTF-16 LE" without BOM), the first bytes say it: text that is
 * mostly ASCII has a NUL in every other byte, on the odd offsets for little-endian and on the
 * even ones for big-endian, which no UTF-8 text has and binary formats rarely keep up.
 */

/** How many leading code units the guess reads. */
const SAMPLE_UNITS = 256;
/** Fewer units than this are too few to guess from. */
const MIN_UNITS = 4;

/** Whether a byte is printable ASCII or a tab, CR or LF: what ASCII text in UTF-16 holds. */
function asciiText(b: number): boolean {
  return (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d;
}

/**
 * The byte order of BOM-less UTF-16 text, guessed from up to SAMPLE_UNITS leading code units: at
 * least 7 in 8 of them are ASCII text with a NUL high byte, none is a NUL character, and the
 * sample holds at least MIN_UNITS units. Undefined when the bytes do not look like that.
 */
export function guessUtf16(bytes: Uint8Array): "utf-16le" | "utf-16be" | undefined {
  const units = Math.min(SAMPLE_UNITS, bytes.length >>> 1);
  if (units < MIN_UNITS) return undefined;
  let le = 0;
  let be = 0;
  for (let i = 0; i < units; i++) {
    const a = bytes[2 * i]!;
    const b = bytes[2 * i + 1]!;
    if (a === 0 && b === 0) return undefined;
    if (b === 0 && asciiText(a)) le++;
    else if (a === 0 && asciiText(b)) be++;
  }
  if (le * 8 >= units * 7) return "utf-16le";
  if (be * 8 >= units * 7) return "utf-16be";
  return undefined;
}

/**
 * The bytes as UTF-8 when they are UTF-16 text (a byte-order mark, or `guessUtf16`); else the
 * bytes unchanged. Findings are then placed in the decoded text's lines and columns.
 */
export function fromUtf16(bytes: Buffer): Buffer {
  const le = bytes[0] === 0xff && bytes[1] === 0xfe;
  const be = bytes[0] === 0xfe && bytes[1] === 0xff;
  if (le || be)
    return Buffer.from(new TextDecoder(le ? "utf-16le" : "utf-16be").decode(bytes.subarray(2)), "utf8");
  const guessed = guessUtf16(bytes);
  if (guessed === undefined) return bytes;
  return Buffer.from(new TextDecoder(guessed).decode(bytes), "utf8");
}
