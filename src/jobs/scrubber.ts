import type { Secret } from "../secret/index.js";

/**
 * Removes credential values from job output before anyone sees it.
 *
 * Every value is searched for in the forms a job is likely to print it in: raw bytes, base64 and
 * base64url (padded and unpadded, and the inner part of the encoding whatever the value's offset
 * inside a larger encoded blob, as in `Authorization: Basic base64(user:key)`), hex (lower and
 * upper case), URL encoding (`encodeURIComponent`, form encoding, every byte as %XX) and JSON
 * string escaping (as JSON.stringify and Python's json.dumps write it). Each
 * match becomes `[REDACTED:name]`; where matches overlap, the whole covered span becomes one
 * `[REDACTED:a,b]`, so no fragment of either value survives.
 *
 * Streaming: a value may be split across writes. The scrubber holds back the last
 * `longestPattern - 1` bytes of what it has seen (they could be the start of a match) and emits
 * them once later bytes prove they are not, or at `end()`. A match that starts before the
 * held-back tail fits whole in the buffer, so it is always found before it is emitted.
 */

export interface ScrubPattern {
  name: string;
  bytes: Buffer;
}

/** Shortest encoded fragment used as a pattern: shorter ones would redact ordinary text. */
const MIN_FRAGMENT = 8;
/** A span of overlapping matches is held at most this long before it is emitted redacted. */
const MAX_HELD = 1024 * 1024;

function base64Core(value: Buffer, shift: number, alphabet: "base64" | "base64url"): string {
  // The characters of base64(prefix + value) that depend on value bytes only, for a prefix of
  // `shift` bytes (the value's offset modulo 3 inside a larger encoded message).
  const encoded = Buffer.concat([Buffer.alloc(shift), value]).toString(alphabet);
  const first = Math.ceil((8 * shift) / 6);
  const last = Math.floor((8 * (shift + value.length)) / 6);
  return encoded.slice(first, last);
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
  // Inside JSON text (a job logging a request body): escaped quotes and backslashes, and the
  // ASCII-only escaping of Python's json.dumps (\u00e9).
  const text = value.toString("utf8");
  if (!text.includes("\uFFFD")) {
    const json = JSON.stringify(text).slice(1, -1);
    // Every other form is ASCII (or the raw bytes as latin1); these two are text: keep them UTF-8.
    add(Buffer.from(json, "utf8").toString("latin1"));
    add(json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
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

interface Span {
  start: number;
  end: number;
  names: Set<string>;
}

/** Every occurrence of every pattern in `buffer`, merged into disjoint spans, in order. */
function findSpans(buffer: Buffer, patterns: readonly ScrubPattern[]): Span[] {
  const hits: { start: number; end: number; name: string }[] = [];
  for (const p of patterns) {
    let at = buffer.indexOf(p.bytes, 0);
    while (at !== -1) {
      hits.push({ start: at, end: at + p.bytes.length, name: p.name });
      at = buffer.indexOf(p.bytes, at + 1);
    }
  }
  hits.sort((a, b) => a.start - b.start || b.end - a.end);
  const spans: Span[] = [];
  for (const h of hits) {
    const last = spans[spans.length - 1];
    if (last && h.start < last.end) {
      last.end = Math.max(last.end, h.end);
      last.names.add(h.name);
    } else {
      spans.push({ start: h.start, end: h.end, names: new Set([h.name]) });
    }
  }
  return spans;
}

function marker(names: Set<string>): Buffer {
  return Buffer.from(`[REDACTED:${[...names].sort().join(",")}]`, "utf8");
}

/** One output stream's scrubber: `push` bytes in, get scrubbed bytes out; `end` flushes. */
export class StreamScrubber {
  readonly #patterns: readonly ScrubPattern[];
  readonly #holdBack: number;
  #held: Buffer = Buffer.alloc(0);

  constructor(patterns: readonly ScrubPattern[]) {
    this.#patterns = patterns;
    const longest = patterns.reduce((max, p) => Math.max(max, p.bytes.length), 0);
    this.#holdBack = Math.max(0, longest - 1);
  }

  push(chunk: Uint8Array): Buffer {
    const buffer = this.#held.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#held, chunk]);
    if (this.#patterns.length === 0) return buffer;
    let cut = Math.max(0, buffer.length - this.#holdBack);
    const spans = findSpans(buffer, this.#patterns);
    // A span that reaches into the held-back tail may still grow (an overlapping match whose end
    // has not arrived yet): hold it back whole, unless it has grown past MAX_HELD.
    const straddling = spans.find((s) => s.start < cut && s.end > cut);
    if (straddling && buffer.length - straddling.start <= MAX_HELD) cut = straddling.start;
    const { out, consumed } = this.#render(buffer, spans, cut);
    this.#held = buffer.subarray(consumed);
    return out;
  }

  end(): Buffer {
    const buffer = this.#held;
    this.#held = Buffer.alloc(0);
    return this.#render(buffer, findSpans(buffer, this.#patterns), buffer.length).out;
  }

  /** Emits bytes before `cut` with spans that start before it replaced; returns how far it got. */
  #render(buffer: Buffer, spans: Span[], cut: number): { out: Buffer; consumed: number } {
    const parts: Buffer[] = [];
    let at = 0;
    for (const s of spans) {
      if (s.start >= cut) break;
      if (s.start > at) parts.push(buffer.subarray(at, s.start));
      parts.push(marker(s.names));
      at = s.end;
    }
    if (cut > at) {
      parts.push(buffer.subarray(at, cut));
      at = cut;
    }
    return { out: Buffer.concat(parts), consumed: at };
  }
}

/** Scrubs a whole buffer at once (records, messages). */
export function scrubBuffer(data: Uint8Array, patterns: readonly ScrubPattern[]): Buffer {
  const s = new StreamScrubber(patterns);
  return Buffer.concat([s.push(data), s.end()]);
}
