import { isUtf8 } from "node:buffer";

/*
 * A path in a repository or a directory is a string of bytes: git and Linux allow any byte but
 * NUL and '/' in a name, valid UTF-8 or not. The scanner carries paths as Buffers from git's -z
 * output and readdir (encoding "buffer") to the file it opens, so no name is changed on the way
 * (a name decoded to U+FFFD names a file that does not exist, which used to be read as "gone"
 * and silently skipped). Text is made from those bytes only at the edges, by the functions below.
 */

/** A path as the scanner's callers may give it: bytes, or a string taken as its UTF-8 bytes. */
export type PathInput = Buffer | string;

export function pathBytes(path: PathInput): Buffer {
  return typeof path === "string" ? Buffer.from(path, "utf8") : path;
}

/** Bytes from U+DC80: each byte that is not part of valid UTF-8 stands for itself (PEP 383). */
const ESCAPE_BASE = 0xdc00;

/**
 * The path as text with nothing lost, for matching (allow-list globs, a rule's file names): valid
 * UTF-8 decodes as usual and each other byte becomes the lone surrogate U+DC80+byte, which no
 * valid UTF-8 can decode to. So `*` and `?` match such a byte like any character, and no glob
 * written as text names it by accident.
 */
export function pathText(path: Buffer): string {
  if (isUtf8(path)) return path.toString("utf8");
  let out = "";
  let at = 0;
  while (at < path.length) {
    const length = utf8SequenceLength(path, at);
    if (length === 0) {
      out += String.fromCharCode(ESCAPE_BASE + path[at]!);
      at++;
    } else {
      out += path.subarray(at, at + length).toString("utf8");
      at += length;
    }
  }
  return out;
}

/** The length of the valid UTF-8 sequence at `at` (RFC 3629: no overlongs or surrogates), or 0. */
function utf8SequenceLength(bytes: Buffer, at: number): number {
  const b0 = bytes[at]!;
  if (b0 < 0x80) return 1;
  const cont = (i: number, lo = 0x80, hi = 0xbf) => {
    const b = bytes[at + i];
    return b !== undefined && b >= lo && b <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/**
 * The path for people to read: as text, with each byte that is not valid UTF-8 written `\xNN`
 * (`evil\xff.txt`). Control characters are left to `printable` in the text report, and JSON
 * escapes them itself. Not lossless (a name may hold a real `\xff`): see `findingPathFields`.
 */
export function displayPath(path: Buffer): string {
  return pathText(path).replace(/[\u{dc80}-\u{dcff}]/gu, (c) => {
    return `\\x${(c.charCodeAt(0) - ESCAPE_BASE).toString(16).padStart(2, "0")}`;
  });
}

/**
 * A finding's path fields: `path` is the name as text (exact when it is valid UTF-8, else the
 * `\xNN` display form) and `pathBase64`, only for a name that is not valid UTF-8, holds its exact
 * bytes. Together they are lossless; `findingPathBytes` reads them back.
 */
export function findingPathFields(path: Buffer): { path: string; pathBase64?: string } {
  return isUtf8(path)
    ? { path: path.toString("utf8") }
    : { path: displayPath(path), pathBase64: path.toString("base64") };
}

/** The exact bytes of a finding's path (see `findingPathFields`). */
export function findingPathBytes(finding: { path: string; pathBase64?: string }): Buffer {
  return finding.pathBase64 === undefined
    ? Buffer.from(finding.path, "utf8")
    : Buffer.from(finding.pathBase64, "base64");
}

/** "a/b/c" → "a/b" ("" for a name at the top), on bytes. */
export function parentOf(path: Buffer): Buffer {
  const slash = path.lastIndexOf(0x2f);
  return slash < 0 ? Buffer.alloc(0) : path.subarray(0, slash);
}

/** Joins path parts with '/', skipping empty ones. */
export function joinPath(...parts: PathInput[]): Buffer {
  const bytes = parts.map(pathBytes).filter((p) => p.length > 0);
  const out: Buffer[] = [];
  for (const [i, p] of bytes.entries()) {
    if (i > 0 && bytes[i - 1]![bytes[i - 1]!.length - 1] !== 0x2f) out.push(SLASH);
    out.push(p);
  }
  return Buffer.concat(out);
}

const SLASH = Buffer.from("/");

/** Percent-encodes a path for a URI, byte by byte, leaving what encodeURIComponent leaves and '/'. */
export function pathUri(path: PathInput): string {
  let out = "";
  for (const b of pathBytes(path)) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-_.!~*'()/]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
