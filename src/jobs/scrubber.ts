import type { PatternAutomaton } from "../secret/index.js";
import { DumpView } from "./scrub-dump.js";
import type { ScrubPattern } from "./scrub-forms.js";
import { compile, DecodedView, RawView, type Report, type View } from "./scrub-views.js";

/**
 * Removes credential values from job output before anyone sees it: the streaming scrubber and its
 * public entries (`StreamScrubber`, `scrubBuffer`).
 *
 * Every value becomes a set of byte patterns (scrub-forms.ts). The output is then read three ways
 * at once, each a view of the same bytes that keeps, for every byte it yields, where in the output
 * it came from: as written, decoded (JSON escapes undone, white space left out; scrub-views.ts)
 * and as a hex dump (scrub-dump.ts).
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

/** At most this much output is held back, whatever the views say, before it is emitted. */
const MAX_HELD = 1024 * 1024;

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
