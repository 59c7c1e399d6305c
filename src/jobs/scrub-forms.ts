import type { Secret } from "../secret/index.js";

/**
 * The forms a credential value is searched for in job output (the scrubber, scrubber.ts).
 *
 * Every value becomes a set of byte patterns (`patternsFor`): raw bytes, base64 and base64url
 * (padded and unpadded, and the inner part of the encoding whatever the value's offset inside a
 * larger encoded blob, as in `Authorization: Basic base64(user:key)`), base32 (likewise), hex
 * (lower and upper case), URL encoding (`encodeURIComponent`, form encoding, every byte as %XX)
 * and UTF-16 (LE and BE). JSON escapes, white space and hex dumps need no forms of their own: the
 * scrubber's views read through them (scrub-views.ts, scrub-dump.ts).
 */

export interface ScrubPattern {
  name: string;
  bytes: Buffer;
}

/** Shortest encoded fragment used as a pattern: shorter ones would redact ordinary text. */
export const MIN_FRAGMENT = 8;

function base64Core(value: Buffer, shift: number, alphabet: "base64" | "base64url"): string {
  // The characters of base64(prefix + value) that depend on value bytes only, for a prefix of
  // `shift` bytes (the value's offset modulo 3 inside a larger encoded message).
  const encoded = Buffer.concat([Buffer.alloc(shift), value]).toString(alphabet);
  const first = Math.ceil((8 * shift) / 6);
  const last = Math.floor((8 * (shift + value.length)) / 6);
  return encoded.slice(first, last);
}

const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32, padded to a multiple of 8 characters (as base32, basenc and b32encode write it). */
function base32(bytes: Buffer): string {
  let out = "";
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(acc << (5 - bits)) & 31];
  return out.padEnd(Math.ceil(out.length / 8) * 8, "=");
}

/** Like base64Core, for base32: 5-byte groups, so five offsets. */
function base32Core(value: Buffer, shift: number): string {
  const encoded = base32(Buffer.concat([Buffer.alloc(shift), value]));
  return encoded.slice(Math.ceil((8 * shift) / 5), Math.floor((8 * (shift + value.length)) / 5));
}

function percentEncodeAll(value: Buffer, upper: boolean): string {
  let out = "";
  for (const byte of value) {
    const hex = byte.toString(16).padStart(2, "0");
    out += `%${upper ? hex.toUpperCase() : hex}`;
  }
  return out;
}

/** Every form of one value the scrubber looks for (deduplicated, longest first). */
export function patternsFor(name: string, value: Buffer): ScrubPattern[] {
  if (value.length === 0) return [];
  const forms = new Set<string>();
  const raw = value.toString("latin1");
  const add = (text: string, minimum = 1) => {
    if (text.length >= minimum) forms.add(text);
  };
  add(raw);
  const b64 = value.toString("base64");
  add(b64);
  add(b64.replace(/=+$/, ""));
  const b64url = value.toString("base64url");
  add(b64url);
  add(`${b64url}${"=".repeat((4 - (b64url.length % 4)) % 4)}`);
  for (const shift of [0, 1, 2]) {
    add(base64Core(value, shift, "base64"), MIN_FRAGMENT);
    add(base64Core(value, shift, "base64url"), MIN_FRAGMENT);
  }
  const b32 = base32(value);
  add(b32);
  add(b32.replace(/=+$/, ""));
  for (const shift of [0, 1, 2, 3, 4]) add(base32Core(value, shift), MIN_FRAGMENT);
  const hex = value.toString("hex");
  add(hex);
  add(hex.toUpperCase());
  let uriComponent: string | undefined;
  try {
    uriComponent = encodeURIComponent(value.toString("utf8"));
  } catch {
    uriComponent = undefined; // not valid UTF-8 text: the %XX forms below still cover it
  }
  if (uriComponent !== undefined) {
    add(uriComponent);
    add(uriComponent.replace(/%20/g, "+"));
    // Lower-case escapes, as some encoders write them.
    add(uriComponent.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  }
  add(percentEncodeAll(value, true));
  add(percentEncodeAll(value, false));
  // The value as UTF-16 text (PowerShell's Out-File, Python's encode("utf-16")). JSON escaping
  // is undone by the decoded view, so it needs no pattern of its own.
  const text = value.toString("utf8");
  if (!text.includes("\uFFFD")) {
    const le = Buffer.from(text, "utf16le");
    add(le.toString("latin1"));
    add(Buffer.from(le).swap16().toString("latin1"));
  }
  return [...forms]
    .map((text) => ({ name, bytes: Buffer.from(text, "latin1") }))
    .sort((a, b) => b.bytes.length - a.bytes.length);
}

/** Patterns for a set of credentials. */
export function patternsForSecrets(secrets: ReadonlyMap<string, Secret>): ScrubPattern[] {
  const all: ScrubPattern[] = [];
  for (const [name, secret] of secrets) all.push(...patternsFor(name, secret.exposeBytes()));
  return all.sort((a, b) => b.bytes.length - a.bytes.length);
}
