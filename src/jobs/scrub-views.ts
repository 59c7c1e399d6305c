import { PatternAutomaton } from "../secret/index.js";
import { MIN_FRAGMENT, type ScrubPattern } from "./scrub-forms.js";

/**
 * How the scrubber (scrubber.ts) reads job output: views of the same bytes, each keeping, for
 * every byte it yields, where in the output it came from, and each matched by its own
 * Aho–Corasick automaton (multi-match.ts), linear in the output whatever it holds.
 *
 *   as written   every pattern, byte for byte (RawView);
 *   decoded      JSON string escapes undone (\" \\ \/ \b \f \n \r \t \uXXXX, surrogate pairs
 *                included, so text with some or every character \u-escaped reads as the text)
 *                and white space (space, tab, CR, LF) left out, so base64 wrapped at 76 columns
 *                (base64, Python's encodebytes, MIME), base32 wrapped the same way, hex split
 *                into lines or groups (xxd -p, od -An -tx1, bytes.hex(" ")) and JSON of any of
 *                them read as one run; matched against every pattern with its white space left
 *                out. A run of more than MAX_GAP white space bytes breaks a match (DecodedView);
 *   hex dump     the data columns of dump lines (scrub-dump.ts).
 *
 * Each view also says how far back a match still in progress could start (its automaton's depth,
 * an escape or a dump line not yet complete), so the scrubber knows what output to hold back.
 */

/** A run of more white space than this (in the decoded view) breaks a match. */
const MAX_GAP = 64;

/** A match, in output offsets (absolute, counted from the stream's first byte). */
export interface Span {
  start: number;
  end: number;
  names: readonly string[];
}

export type Report = (span: Span) => void;

/**
 * One automaton fed bytes of a view, each with the output range it stands for. A ring remembers
 * where the last `longest` of them started, enough to place any match.
 */
export class Lane {
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

export interface View {
  /** Reads `chunk`, the output bytes from offset `base` on, reporting matches. */
  feed(chunk: Buffer, base: number, report: Report): void;
  /** The output has ended: report what is left. */
  finish(report: Report): void;
  /** No match this view reports from now on starts before this offset (`received` if none can). */
  safe(received: number): number;
}

/** The output as written: a byte's origin is its own offset, so no ring is needed. */
export class RawView implements View {
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

export function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

export function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const lower = b | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * The output with JSON escapes undone and white space left out (see the top of this file). An
 * escape that is not JSON's (`\q`, a `\u` without four hex digits) stands for itself; a lone
 * surrogate breaks a match (no valid text holds one).
 */
export class DecodedView implements View {
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

/** The automata of the three views for one set of patterns. */
export interface Compiled {
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

export function compile(patterns: readonly ScrubPattern[]): Compiled {
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
