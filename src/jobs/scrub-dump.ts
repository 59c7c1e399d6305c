import type { PatternAutomaton } from "../secret/index.js";
import { hexValue, isSpace, Lane, type Report, type View } from "./scrub-views.js";

/**
 * The scrubber's hex dump view (scrub-views.ts): the data columns of dump lines (xxd, hexdump -C,
 * hexdump, od -t x1, od -x, od) joined across lines, without the offset and the text column.
 */

/** A longer line is not a line of a hex dump (xxd -c 256 writes under 1000 bytes). */
const DUMP_LINE_MAX = 4096;

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
export class DumpView implements View {
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
