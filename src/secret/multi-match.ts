/**
 * Aho–Corasick over bytes: one pass finds where every pattern of a set ends in a stream, however
 * many patterns there are and whatever the text. Each byte takes one step down the trie or
 * follows failure links, and the failure links give back no more depth than the steps took, so
 * a stream of n bytes costs O(n) steps in all (amortised), with no backtracking input can
 * provoke. The state carries across calls, so a pattern split across writes is found the same.
 * Used by the job output scrubber (src/jobs/scrubber.ts) and the scanner's rule prefilter
 * (src/scan/prefilter.ts).
 */

/** What ends at a state: the longest pattern that is a suffix of it, and the names of all of them. */
export interface MatchOutput {
  length: number;
  names: readonly string[];
}

const NONE = -1;
const MANY = -2;

export class PatternAutomaton {
  /** The length of the longest pattern (a match is never longer). */
  readonly longest: number;
  /** Transitions tried so far, failure links included: the work done, for tests of the linear bound. */
  transitions = 0;
  readonly #depth: Int32Array;
  readonly #fail: Int32Array;
  readonly #root = new Int32Array(256).fill(NONE);
  // Most states past the first few bytes have a single child: kept in two arrays; the edges of
  // states with several children are looked up in the map of all edges, keyed state * 256 + byte.
  readonly #childByte: Int16Array;
  readonly #childState: Int32Array;
  readonly #many = new Map<number, number>();
  readonly #output: (MatchOutput | undefined)[];
  /**
   * Text that matches nothing keeps the automaton at the root or one byte below it: for those
   * states the full transition (failure links followed) is a table lookup, a row of 256 each.
   */
  readonly #denseRow: Int32Array;
  readonly #dense: Int32Array;

  constructor(patterns: readonly { name: string; bytes: Uint8Array }[]) {
    // The trie: edges in one map keyed state * 256 + byte, and each state's children in a list
    // (first child, next sibling) for the breadth-first pass below.
    const edges = this.#many;
    const depth: number[] = [0];
    const byteOf: number[] = [NONE];
    const firstChild: number[] = [NONE];
    const nextSibling: number[] = [NONE];
    const childCount: number[] = [0];
    const ends = new Map<number, Set<string>>();
    let longest = 0;
    for (const p of patterns) {
      if (p.bytes.length === 0) continue;
      longest = Math.max(longest, p.bytes.length);
      let s = 0;
      for (const b of p.bytes) {
        let next = edges.get(s * 256 + b);
        if (next === undefined) {
          next = depth.length;
          depth.push(depth[s]! + 1);
          byteOf.push(b);
          firstChild.push(NONE);
          nextSibling.push(firstChild[s]!);
          childCount.push(0);
          firstChild[s] = next;
          childCount[s]!++;
          edges.set(s * 256 + b, next);
        }
        s = next;
      }
      const names = ends.get(s) ?? new Set<string>();
      names.add(p.name);
      ends.set(s, names);
    }
    const n = depth.length;
    this.longest = longest;
    this.#depth = Int32Array.from(depth);
    this.#fail = new Int32Array(n);
    this.#childByte = new Int16Array(n).fill(NONE);
    this.#childState = new Int32Array(n).fill(NONE);
    this.#output = new Array(n).fill(undefined);
    for (let s = 0; s < n; s++) {
      const only = firstChild[s]!;
      if (s === 0) for (let t = only; t !== NONE; t = nextSibling[t]!) this.#root[byteOf[t]!] = t;
      else if (childCount[s] === 1) {
        this.#childByte[s] = byteOf[only]!;
        this.#childState[s] = only;
      } else if (childCount[s]! > 1) this.#childByte[s] = MANY;
    }
    // Failure links and outputs, breadth first: a state's links are set before its children's.
    const queue = new Int32Array(n);
    let tail = 1; // queue[0] is the root
    const interned = new Map<string, MatchOutput>();
    for (let head = 0; head < tail; head++) {
      const s = queue[head]!;
      if (s !== 0) {
        const own = ends.get(s);
        const inherited = this.#output[this.#fail[s]!];
        if (own !== undefined) {
          const names = [...new Set([...own, ...(inherited?.names ?? [])])].sort();
          const key = `${depth[s]}\0${names.join("\0")}`;
          const out = interned.get(key) ?? { length: depth[s]!, names };
          interned.set(key, out);
          this.#output[s] = out;
        } else this.#output[s] = inherited;
      }
      for (let t = firstChild[s]!; t !== NONE; t = nextSibling[t]!) {
        const b = byteOf[t]!;
        let target = NONE;
        if (s !== 0) {
          let f = this.#fail[s]!;
          target = this.#goto(f, b);
          while (target === NONE && f !== 0) {
            f = this.#fail[f]!;
            target = this.#goto(f, b);
          }
        }
        this.#fail[t] = target === NONE ? 0 : target;
        queue[tail++] = t;
      }
    }
    // The dense rows, in the same breadth-first order: a state's failure target has its row.
    this.#denseRow = new Int32Array(n).fill(NONE);
    let rows = 0;
    while (rows < n && depth[queue[rows]!]! <= 1) rows++;
    this.#dense = new Int32Array(rows * 256);
    for (let row = 0; row < rows; row++) {
      const s = queue[row]!;
      this.#denseRow[s] = row;
      for (let b = 0; b < 256; b++) {
        const next = this.#goto(s, b);
        this.#dense[row * 256 + b] =
          next !== NONE ? next : s === 0 ? 0 : this.#dense[this.#denseRow[this.#fail[s]!]! * 256 + b]!;
      }
    }
  }

  #goto(s: number, b: number): number {
    if (s === 0) return this.#root[b]!;
    const one = this.#childByte[s]!;
    if (one === b) return this.#childState[s]!;
    if (one !== MANY) return NONE;
    return this.#many.get(s * 256 + b) ?? NONE;
  }

  /** The state after `byte` (0 is the start). */
  step(state: number, byte: number): number {
    let s = state;
    for (;;) {
      this.transitions++;
      const row = this.#denseRow[s]!;
      if (row !== NONE) return this.#dense[row * 256 + byte]!;
      const next = this.#goto(s, byte);
      if (next !== NONE) return next;
      s = this.#fail[s]!;
    }
  }

  /** How many of the last bytes read may still be the start of a match. */
  depth(state: number): number {
    return this.#depth[state]!;
  }

  /** The patterns that end at this state, if any. */
  output(state: number): MatchOutput | undefined {
    return this.#output[state];
  }
}
