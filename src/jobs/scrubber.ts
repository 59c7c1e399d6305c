import { PatternAutomaton, type Secret } from "../secret/index.js";

/**
 * Removes credential values from job output before anyone sees it.
 *
 * Every value becomes a set of byte patterns (`patternsFor`): raw bytes, base64 and base64url
 * (padded and unpadded, and the inner part of the encoding whatever the value's offset inside a
 * larger encoded blob, as in `Authorization: Basic base64(user:key)`), base32 (likewise), hex
 * (lower and upper case), URL encoding (`encodeURIComponent`, form encoding, every byte as %XX)
 * and UTF-16 (LE and BE). The output is then read three ways at once, each a view of the same
 * bytes that keeps, for every byte it yields, where in the output it came from:
 *
 *   as written   every pattern, byte for byte;
 *   decoded      JSON string escapes undone (\" \\ \/ \b \f \n \r \t \uXXXX, surrogate pairs
 *                included, so text with some or every character \u-escaped reads as the text)
 *                and white space (space, tab, CR, LF) left out, so base64 wrapped at 76 columns
 *                (base64, Python's encodebytes, MIME), base32 wrapped the same way, hex split
 *                into lines or groups (xxd -p, od -An -tx1, bytes.hex(" ")) and JSON of any of
 *                them read as one run; matched against every pattern with its white space left
 *                out. A run of more than MAX_GAP white space bytes breaks a match.
 *   hex dump     the data columns of dump lines (xxd, hexdump -C, hexdump, od -t x1, od -x, od)
 *                joined across lines, without the offset and the text column; see DumpView.
 *
 * A match in any view becomes a span of the output (for a dump, to the end of the line where it
 * ends, so the text column showing the value's last bytes goes too), and each span becomes
 * `[REDACTED:name]`; overlapping spans become one `[REDACTED:a,b]`, so no fragment of either
 * value survives.
 *
 * Cost: each view runs an Aho–Corasick automaton (src/secret/multi-match.ts), linear in the output whatever
 * it holds; spans are kept in a heap by start. So a push costs O(bytes + spans · log spans), with
 * no input that makes it quadratic.
 *
 * Streaming: a value may be split across writes. Each view says how far back a match still in
 * progress could start (its automaton's depth, an escape or a dump line not yet complete); the
 * scrubber holds back the output from there, and emits it once later bytes prove it clean, or at
 * `end()`. What is held is bounded: a match covers at most the longest pattern's bytes, spread
 * by escapes and MAX_GAP white space, or DUMP_LINE_MAX bytes a line; and MAX_HELD bounds
 * everything as a safety net.
 */

export interface ScrubPattern {
  name: string;
  bytes: Buffer;
}

/** Shortest encoded fragment used as a pattern: shorter ones would redact ordinary text. */
const MIN_FRAGMENT = 8;
/** At most this much output is held back, whatever the views say, before it is emitted. */
const MAX_HELD = 1024 * 1024;
/** A run of more white space than this (in the decoded view) breaks a match. */
const MAX_GAP = 64;
/** A longer line is not a line of a hex dump (xxd -c 256 writes under 1000 bytes). */
const DUMP_LINE_MAX = 4096;

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

// ---------------------------------------------------------------------------------------------
// Views

/** A match, in output offsets (absolute, counted from the stream's first byte). */
interface Span {
  start: number;
  end: number;
  names: readonly string[];
}

type Report = (span: Span) => void;

/**
 * One automaton fed bytes of a view, each with the output range it stands for. A ring remembers
 * where the last `longest` of them started, enough to place any match.
 */
class Lane {
  readonly #automaton: PatternAutomaton;
  readonly #starts: Float64Array;
  readonly #mask: number;
  #state = 0;
  #count = 0;

  constructor(automaton: PatternAutomaton) {
    this.#automaton = automaton;
    let size = 1;
    while (size < automaton.longest) size *= 2;
    this.#starts = new Float64Array(size);
    this.#mask = size - 1;
  }

  /** Feeds one byte that stands for output [start, end); returns the match ending here, if any. */
  feed(byte: number, start: number, end: number): Span | undefined {
    this.#state = this.#automaton.step(this.#state, byte);
    this.#starts[this.#count & this.#mask] = start;
    this.#count++;
    const out = this.#automaton.output(this.#state);
    if (out === undefined) return undefined;
    return { start: this.#starts[(this.#count - out.length) & this.#mask]!, end, names: out.names };
  }

  /** What was read can no longer continue into a match (the view's text was broken). */
  reset(): void {
    this.#state = 0;
  }

  /** Where a match still in progress could start, in output offsets; undefined if none is. */
  pendingFrom(): number | undefined {
    const depth = this.#automaton.depth(this.#state);
    return depth === 0 ? undefined : this.#starts[(this.#count - depth) & this.#mask];
  }
}

interface View {
  /** Reads `chunk`, the output bytes from offset `base` on, reporting matches. */
  feed(chunk: Buffer, base: number, report: Report): void;
  /** The output has ended: report what is left. */
  finish(report: Report): void;
  /** No match this view reports from now on starts before this offset (`received` if none can). */
  safe(received: number): number;
}

/** The output as written: a byte's origin is its own offset, so no ring is needed. */
class RawView implements View {
  readonly #automaton: PatternAutomaton;
  #state = 0;

  constructor(automaton: PatternAutomaton) {
    this.#automaton = automaton;
  }

  feed(chunk: Buffer, base: number, report: Report): void {
    const automaton = this.#automaton;
    let state = this.#state;
    for (let i = 0; i < chunk.length; i++) {
      state = automaton.step(state, chunk[i]!);
      const out = automaton.output(state);
      if (out) report({ start: base + i + 1 - out.length, end: base + i + 1, names: out.names });
    }
    this.#state = state;
  }

  finish(): void {}

  safe(received: number): number {
    return received - this.#automaton.depth(this.#state);
  }
}

const BACKSLASH = 0x5c;
const LETTER_U = 0x75;
/** JSON's one-character escapes: the byte after the backslash → the byte it stands for. */
const SIMPLE_ESCAPES = new Map([
  [0x22, 0x22],
  [0x5c, 0x5c],
  [0x2f, 0x2f],
  [0x62, 0x08],
  [0x66, 0x0c],
  [0x6e, 0x0a],
  [0x72, 0x0d],
  [0x74, 0x09],
]);

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const lower = b | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * The output with JSON escapes undone and white space left out (see the top of this file). An
 * escape that is not JSON's (`\q`, a `\u` without four hex digits) stands for itself; a lone
 * surrogate breaks a match (no valid text holds one).
 */
class DecodedView implements View {
  readonly #lane: Lane;
  /** The escape being read, from its backslash (at most `\uXXXX`), and where it started. */
  #escape: number[] = [];
  #escapeStart = 0;
  /** A high surrogate waiting for its low half (-1: none), and where its escape started. */
  #high = -1;
  #highStart = 0;
  #gap = 0;

  constructor(automaton: PatternAutomaton) {
    this.#lane = new Lane(automaton);
  }

  feed(chunk: Buffer, base: number, report: Report): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      const at = base + i;
      const pending = this.#escape;
      if (pending.length === 0) {
        if (b === BACKSLASH) {
          pending.push(b);
          this.#escapeStart = at;
        } else this.#emit(b, at, at + 1, report);
        continue;
      }
      if (pending.length === 1) {
        const simple = SIMPLE_ESCAPES.get(b);
        if (simple !== undefined) {
          this.#escape = [];
          this.#emit(simple, this.#escapeStart, at + 1, report);
          continue;
        }
        if (b === LETTER_U) {
          pending.push(b);
          continue;
        }
      } else if (hexValue(b) >= 0) {
        pending.push(b);
        if (pending.length === 6) {
          this.#escape = [];
          this.#unit(Number.parseInt(String.fromCharCode(...pending.slice(2)), 16), at + 1, report);
        }
        continue;
      }
      // Not an escape after all: its bytes stand for themselves, and this byte is read again.
      this.#literal(report);
      i--;
    }
  }

  /** A UTF-16 code unit from `\uXXXX` that ends at `end`. */
  #unit(unit: number, end: number, report: Report): void {
    const start = this.#escapeStart;
    if (unit >= 0xdc00 && unit <= 0xdfff) {
      if (this.#high < 0) {
        this.#lane.reset();
        return;
      }
      const cp = 0x10000 + ((this.#high - 0xd800) << 10) + (unit - 0xdc00);
      const from = this.#highStart;
      this.#high = -1;
      this.#emitText(String.fromCodePoint(cp), from, end, report);
      return;
    }
    if (this.#high >= 0) {
      this.#high = -1;
      this.#lane.reset();
    }
    if (unit >= 0xd800 && unit <= 0xdbff) {
      this.#high = unit;
      this.#highStart = start;
    } else this.#emitText(String.fromCharCode(unit), start, end, report);
  }

  #emitText(text: string, start: number, end: number, report: Report): void {
    for (const b of Buffer.from(text, "utf8")) this.#emit(b, start, end, report);
  }

  #literal(report: Report): void {
    const bytes = this.#escape;
    this.#escape = [];
    for (const [k, b] of bytes.entries())
      this.#emit(b, this.#escapeStart + k, this.#escapeStart + k + 1, report);
  }

  #emit(byte: number, start: number, end: number, report: Report): void {
    if (this.#high >= 0) {
      // A high surrogate not followed by its low half.
      this.#high = -1;
      this.#lane.reset();
    }
    if (isSpace(byte)) {
      if (++this.#gap > MAX_GAP) this.#lane.reset();
      return;
    }
    this.#gap = 0;
    const hit = this.#lane.feed(byte, start, end);
    if (hit) report(hit);
  }

  finish(report: Report): void {
    if (this.#escape.length > 0) this.#literal(report);
  }

  safe(received: number): number {
    let from = this.#lane.pendingFrom() ?? received;
    if (this.#escape.length > 0) from = Math.min(from, this.#escapeStart);
    if (this.#high >= 0) from = Math.min(from, this.#highStart);
    return from;
  }
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * The data columns of hex dumps, joined across lines. A dump line is an optional offset (a hex
 * number ending in ':', as xxd writes it, or a number longer than the groups after it, as
 * hexdump and od write it), then groups of one size, separated by single spaces (two are allowed
 * between groups where the offset has no ':', for hexdump -C's middle gap): 2 hex digits (one
 * byte), 4 or 8 hex digits (bytes in order after an xxd offset; otherwise little-endian words,
 * as hexdump and od -x write them) or 6 octal digits (a little-endian 16-bit word, od's default).
 * What follows the groups (the text column) is not data. A line with only an offset keeps the
 * run going; any other line breaks it. A match reaches to the end of the line it ends on, so the
 * text column that shows the value's last bytes is redacted with it.
 */
class DumpView implements View {
  readonly #lane: Lane;
  readonly #line = new Uint8Array(DUMP_LINE_MAX);
  #length = 0;
  #lineStart = 0;
  /** "blank": only white space so far; "candidate": starts with a hex digit; "other": not a dump line. */
  #status: "blank" | "candidate" | "other" = "blank";
  #afterCr = false;
  #firstToken = false;
  #received = 0;

  constructor(automaton: PatternAutomaton) {
    this.#lane = new Lane(automaton);
  }

  feed(chunk: Buffer, base: number, report: Report): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      const at = base + i;
      if (b === LF || b === CR) {
        // CR LF ends one line, not two.
        if (!(b === LF && this.#afterCr)) this.#endLine(at, report);
        this.#afterCr = b === CR;
        this.#lineStart = at + 1;
        continue;
      }
      this.#afterCr = false;
      if (this.#status === "other") continue;
      if (this.#length === DUMP_LINE_MAX) {
        this.#notDump();
        continue;
      }
      this.#line[this.#length++] = b;
      if (this.#status === "blank") {
        if (isSpace(b)) continue;
        this.#status = "candidate";
        this.#firstToken = true;
      }
      // The first word of a dump line is hex digits (an offset may end in ':'): most lines of
      // ordinary output are ruled out at their first byte or word, and not held.
      if (this.#firstToken) {
        if (b === 0x20 || b === 0x09) this.#firstToken = false;
        else if (hexValue(b) < 0 && b !== 0x3a) this.#notDump();
      }
    }
    this.#received = base + chunk.length;
  }

  #notDump(): void {
    this.#status = "other";
    this.#lane.reset();
  }

  #endLine(end: number, report: Report): void {
    if (this.#status !== "candidate" || !this.#readLine(end, report)) this.#lane.reset();
    this.#length = 0;
    this.#status = "blank";
  }

  /** Feeds the line's data to the lane; false if it is not a dump line. */
  #readLine(end: number, report: Report): boolean {
    const line = this.#line;
    const tokens: { start: number; end: number; gap: number }[] = [];
    for (let i = 0, gap = 0; i < this.#length; ) {
      if (line[i] === 0x20 || line[i] === 0x09) {
        gap++;
        i++;
        continue;
      }
      const start = i;
      while (i < this.#length && line[i] !== 0x20 && line[i] !== 0x09) i++;
      tokens.push({ start, end: i, gap });
      gap = 0;
    }
    const allHex = (t: { start: number; end: number }) => {
      for (let k = t.start; k < t.end; k++) if (hexValue(line[k]!) < 0) return false;
      return true;
    };
    const first = tokens[0]!;
    const size = (t: { start: number; end: number } | undefined) => (t === undefined ? 0 : t.end - t.start);
    let at = 0;
    let xxd = false;
    if (line[first.end - 1] === 0x3a && allHex({ start: first.start, end: first.end - 1 })) {
      xxd = true;
      at = 1;
    } else if (allHex(first) && (tokens.length === 1 || size(first) > size(tokens[1]))) at = 1;
    const groupSize = size(tokens[at]);
    if (groupSize === 0) return true; // an offset alone (the last line of hexdump and od)
    const octal = groupSize === 6 && !xxd;
    if (!octal && groupSize !== 2 && groupSize !== 4 && groupSize !== 8) return false;
    const feed = (digit: number, start: number, stop: number) => {
      const hit = this.#lane.feed(digit, this.#lineStart + start, this.#lineStart + stop);
      if (hit) report({ start: hit.start, end, names: hit.names });
    };
    let fed = false;
    for (let j = at; j < tokens.length; j++) {
      const t = tokens[j]!;
      if (j > at && t.gap > (xxd ? 1 : 2)) break;
      // xxd ends an odd-sized dump with a shorter group; it is the line's last.
      const last = size(t) < groupSize && size(t) % 2 === 0 && xxd;
      if (size(t) !== groupSize && !last) break;
      if (octal) {
        let word = 0;
        for (let k = t.start; k < t.end; k++) {
          const d = line[k]! - 0x30;
          if (d < 0 || d > 7) return fed;
          word = word * 8 + d;
        }
        if (word > 0xffff) return fed;
        for (const c of (((word & 0xff) << 8) | (word >> 8)).toString(16).padStart(4, "0"))
          feed(c.charCodeAt(0), t.start, t.end);
      } else {
        if (!allHex(t)) break;
        const wordBytes = groupSize === 2 || xxd ? 1 : groupSize / 2;
        const length = size(t);
        // Bytes in output order: a little-endian word is written last byte first.
        for (let w = 0; w < length; w += 2 * wordBytes)
          for (let k = wordBytes - 1; k >= 0; k--) {
            feed(line[t.start + w + 2 * k]!, t.start, t.end);
            feed(line[t.start + w + 2 * k + 1]!, t.start, t.end);
          }
      }
      fed = true;
      if (last) break;
    }
    return fed;
  }

  finish(report: Report): void {
    if (this.#length > 0) this.#endLine(this.#received, report);
  }

  safe(received: number): number {
    const from = this.#lane.pendingFrom() ?? received;
    return this.#status === "other" ? from : Math.min(from, this.#lineStart);
  }
}

// ---------------------------------------------------------------------------------------------
// The scrubber

/** The automata of the three views for one set of patterns. */
interface Compiled {
  raw: PatternAutomaton;
  decoded: PatternAutomaton;
  dump: PatternAutomaton | undefined;
}

function isHexDigits(bytes: Buffer): boolean {
  if (bytes.length % 2 !== 0) return false;
  for (const b of bytes) if (hexValue(b) < 0) return false;
  return true;
}

// The job server hands every run the same pattern array (until a reload): compile it once.
const compiledSets = new WeakMap<readonly ScrubPattern[], Compiled>();

function compile(patterns: readonly ScrubPattern[]): Compiled {
  let compiled = compiledSets.get(patterns);
  if (compiled === undefined) {
    const decoded: ScrubPattern[] = [];
    for (const p of patterns) {
      const bytes = Buffer.from(p.bytes.filter((b) => !isSpace(b)));
      if (bytes.length === p.bytes.length || bytes.length >= MIN_FRAGMENT)
        decoded.push({ name: p.name, bytes });
    }
    const hex = patterns.filter((p) => isHexDigits(p.bytes));
    compiled = {
      raw: new PatternAutomaton(patterns),
      decoded: new PatternAutomaton(decoded),
      dump: hex.length === 0 ? undefined : new PatternAutomaton(hex),
    };
    compiledSets.set(patterns, compiled);
  }
  return compiled;
}

/** A span waiting to be emitted, with the names of every match merged into it. */
interface Pending {
  start: number;
  end: number;
  names: Set<string>;
}

/** A binary min-heap of pending spans by start. */
class SpanHeap {
  readonly #items: Pending[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): Pending | undefined {
    return this.#items[0];
  }

  push(item: Pending): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.start <= item.start) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  pop(): Pending | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && items[right]!.start < items[left]!.start ? right : left;
      if (items[child]!.start >= last.start) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

function marker(names: Iterable<string>): Buffer {
  return Buffer.from(`[REDACTED:${[...names].sort().join(",")}]`, "utf8");
}

/**
 * The output not yet emitted, from offset `base` on, in one buffer that grows by doubling and is
 * compacted when more than half of it has been emitted: appending and emitting cost O(bytes).
 */
class HeldBytes {
  #buffer = Buffer.alloc(0);
  #from = 0;
  #to = 0;
  /** The output offset of the first held byte. */
  base = 0;

  get end(): number {
    return this.base + this.#to - this.#from;
  }

  append(chunk: Uint8Array): void {
    if (this.#to + chunk.length > this.#buffer.length) {
      const held = this.#to - this.#from;
      const size = Math.max(
        held + chunk.length,
        held > this.#buffer.length / 2 ? this.#buffer.length * 2 : 0,
        4096,
      );
      const next = size > this.#buffer.length ? Buffer.allocUnsafe(size) : this.#buffer;
      this.#buffer.copy(next, 0, this.#from, this.#to);
      this.#buffer = next;
      this.#from = 0;
      this.#to = held;
    }
    this.#buffer.set(chunk, this.#to);
    this.#to += chunk.length;
  }

  /** The held bytes of output [start, end), not copied. */
  slice(start: number, end: number): Buffer {
    return this.#buffer.subarray(this.#from + start - this.base, this.#from + end - this.base);
  }

  /** Forgets everything before output offset `to`. */
  drop(to: number): void {
    this.#from += to - this.base;
    this.base = to;
  }
}

/** One output stream's scrubber: `push` bytes in, get scrubbed bytes out; `end` flushes. */
export class StreamScrubber {
  readonly #views: View[];
  readonly #automata: PatternAutomaton[] = [];
  readonly #held = new HeldBytes();
  readonly #spans = new SpanHeap();
  readonly #report: Report;

  constructor(patterns: readonly ScrubPattern[]) {
    const usable = patterns.filter((p) => p.bytes.length > 0);
    if (usable.length === 0) this.#views = [];
    else {
      const compiled = compile(patterns);
      this.#views = [new RawView(compiled.raw), new DecodedView(compiled.decoded)];
      this.#automata.push(compiled.raw, compiled.decoded);
      if (compiled.dump) {
        this.#views.push(new DumpView(compiled.dump));
        this.#automata.push(compiled.dump);
      }
    }
    this.#report = (span) => {
      // What was emitted is gone: a match reaching back into it covers only what is held.
      const start = Math.max(span.start, this.#held.base);
      if (span.end > start) this.#spans.push({ start, end: span.end, names: new Set(span.names) });
    };
  }

  /**
   * Automaton transitions taken by every scrubber of this pattern set (the automata are shared).
   * A view feeds its automaton at most one byte per output byte, and each byte costs at most two
   * transitions, amortised: so at most 6 per output byte, over the three views.
   */
  get work(): number {
    return this.#automata.reduce((sum, a) => sum + a.transitions, 0);
  }

  push(chunk: Uint8Array): Buffer {
    if (this.#views.length === 0) return Buffer.from(chunk);
    const base = this.#held.end;
    this.#held.append(chunk);
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (const view of this.#views) view.feed(bytes, base, this.#report);
    const received = this.#held.end;
    let safe = received;
    for (const view of this.#views) safe = Math.min(safe, view.safe(received));
    return this.#emit(Math.max(safe, received - MAX_HELD));
  }

  end(): Buffer {
    for (const view of this.#views) view.finish(this.#report);
    return this.#emit(this.#held.end);
  }

  /**
   * Emits the output before `safe` (no match found later starts before it), each span replaced
   * by its marker. A span that reaches past `safe` may still grow (an overlapping match whose
   * end has not arrived yet): it is held whole, unless that would hold more than MAX_HELD.
   */
  #emit(safe: number): Buffer {
    const held = this.#held;
    const parts: Buffer[] = [];
    let at = held.base;
    let current: Pending | undefined;
    const close = (span: Pending) => {
      if (span.end <= at) return; // already covered by a span emitted before
      if (span.start > at) parts.push(held.slice(at, span.start));
      parts.push(marker(span.names));
      at = span.end;
    };
    while ((this.#spans.peek()?.start ?? Number.POSITIVE_INFINITY) < safe) {
      const next = this.#spans.pop()!;
      if (current !== undefined && next.start < current.end) {
        current.end = Math.max(current.end, next.end);
        for (const name of next.names) current.names.add(name);
        continue;
      }
      if (current !== undefined) close(current);
      current = next;
    }
    let cut = safe;
    if (current !== undefined) {
      if (current.end <= safe || held.end - current.start > MAX_HELD) {
        close(current);
        cut = Math.max(cut, at);
      } else {
        cut = current.start;
        this.#spans.push(current);
      }
    }
    if (cut > at) {
      parts.push(held.slice(at, cut));
      at = cut;
    }
    const out = Buffer.concat(parts);
    held.drop(at);
    return out;
  }
}

/** Scrubs a whole buffer at once (records, messages). */
export function scrubBuffer(data: Uint8Array, patterns: readonly ScrubPattern[]): Buffer {
  const s = new StreamScrubber(patterns);
  return Buffer.concat([s.push(data), s.end()]);
}
