import type { KnownOwner, KnownValueSet } from "./fingerprint-index.js";

/** How a known value appeared in the text. */
export type KnownForm = "raw" | "base64" | "hex" | "url";

export interface KnownHit {
  /** Byte span in the scanned text (for an encoded form: the span of the encoded run). */
  start: number;
  end: number;
  form: KnownForm;
  owners: KnownOwner[];
}

/*
 * Finding stored values without holding them: every candidate substring whose length equals a
 * recorded length is HMACed under the scan key and looked up.
 *
 * Candidates. The text is cut into tokens at "hard" separators (white space, quotes, brackets,
 * commas, semicolons, pipes, backslashes): a credential value contains none of them in
 * practice. Inside a token, "soft" separators (= : & ? / @ # . ! $ % * + ~ ^) may belong to the
 * value (base64 has / + =, JWTs have dots) or delimit it (KEY=value, user:value@host,
 * ?token=value). So every span of a recorded length that starts at the token start or just
 * after one of = : & ? / @ # and ends at the token end or just before one of : & ? / @ # . is
 * a candidate. That
 * finds a value alone, in KEY=value, "value", JSON strings, URL parameters and userinfo, with
 * O(separators × recorded lengths) work per token and an HMAC only for spans of a recorded
 * length.
 *
 * Encoded forms. Runs of base64/base64url characters and of hex digits long enough to hold a
 * recorded value, and tokens holding %XX escapes, are decoded and the decoded bytes are searched
 * the same way (to depth 2, so base64 of JSON holding a URL-encoded value is found). The hit is
 * reported on the encoded run.
 *
 * Cost. Text dense with soft separators (a run of ':' both starts and ends a candidate at every
 * byte) makes up to one candidate per recorded length per byte: 30 lengths cost 20-30 s per MiB
 * of HMACs. Ordinary text makes far fewer (under 0.2 candidates per byte in source, docs and
 * minified bundles), so the candidates per file are capped at MAX_CANDIDATES_BASE plus
 * MAX_CANDIDATES_PER_BYTE per byte, and a file that reaches the cap (or the caller's deadline)
 * is reported as not fully searched rather than searched for minutes.
 */

const HARD = new Uint8Array(256);
for (const ch of " \t\n\r\v\f\"'`<>()[]{},;|\\") HARD[ch.charCodeAt(0)] = 1;
HARD[0] = 1;
// A value starts after a delimiter of assignments, URLs and userinfo; not after . + ! $ % * ~ ^,
// which occur inside base64, JWTs and words far more often than before a value.
const STARTS_AFTER = new Uint8Array(256);
for (const ch of "=:&?/@#") STARTS_AFTER[ch.charCodeAt(0)] = 1;
// And ends before a delimiter or a full stop; not before = + ! $ % * ~ ^ (base64 padding and
// alphabet, template syntax).
const ENDS_BEFORE = new Uint8Array(256);
for (const ch of ":&?/@#.") ENDS_BEFORE[ch.charCodeAt(0)] = 1;
const BASE64 = new Uint8Array(256);
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")
  BASE64[ch.charCodeAt(0)] = 1;
const HEX = new Uint8Array(256);
for (const ch of "0123456789abcdefABCDEF") HEX[ch.charCodeAt(0)] = 1;

const MAX_STARTS_PER_TOKEN = 512;
/** Candidate spans (one HMAC each) allowed per file: this many, plus the per-byte allowance. */
export const MAX_CANDIDATES_BASE = 100_000;
export const MAX_CANDIDATES_PER_BYTE = 0.5;
const MAX_DEPTH = 2;
const EQUALS = 0x3d;
const PERCENT = 0x25;

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}

/** Decodes %XX escapes; undefined when there were none. */
function urlDecode(bytes: Buffer): Buffer | undefined {
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  let changed = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === PERCENT && i + 2 < bytes.length) {
      const hi = hexValue(bytes[i + 1]!);
      const lo = hexValue(bytes[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        out[n++] = hi * 16 + lo;
        i += 2;
        changed = true;
        continue;
      }
    }
    out[n++] = b;
  }
  return changed ? out.subarray(0, n) : undefined;
}

/** What one file's search may spend; `stopped` says why it ended early. */
interface SearchBudget {
  candidatesLeft: number;
  deadline: number;
  tokens: number;
  stopped?: "candidates" | "time";
}

class KnownValueSearch {
  readonly #known: KnownValueSet;
  readonly #lengths: number[];
  readonly #minBase64: number;
  readonly #minHex: number;

  constructor(known: KnownValueSet) {
    this.#known = known;
    this.#lengths = [...known.lengths].sort((a, b) => a - b);
    this.#minBase64 = Math.floor((known.minLength * 4) / 3);
    this.#minHex = known.minLength * 2;
  }

  search(
    text: Buffer,
    depth: number,
    hits: KnownHit[],
    budget: SearchBudget,
    report?: { start: number; end: number; form: KnownForm },
  ): void {
    const n = text.length;
    const min = this.#known.minLength;
    let i = 0;
    while (i < n) {
      while (i < n && HARD[text[i]!]) i++;
      const start = i;
      while (i < n && !HARD[text[i]!]) i++;
      if (i - start >= min) {
        if (budget.stopped) return;
        // The clock is read every 64 tokens: cheap, and a token costs at most
        // MAX_STARTS_PER_TOKEN × lengths HMACs.
        if ((++budget.tokens & 63) === 0 && performance.now() > budget.deadline) {
          budget.stopped = "time";
          return;
        }
        const found = this.#token(text, start, i, depth, hits, budget, report);
        // Inside a decoded form, one hit is enough to report the encoded run.
        if (found && report) return;
      }
    }
  }

  #token(
    text: Buffer,
    start: number,
    end: number,
    depth: number,
    hits: KnownHit[],
    budget: SearchBudget,
    report: { start: number; end: number; form: KnownForm } | undefined,
  ): boolean {
    let found = false;
    let starts = 0;
    for (let s = start; s < end && starts < MAX_STARTS_PER_TOKEN; s++) {
      if (s !== start && !STARTS_AFTER[text[s - 1]!]) continue;
      starts++;
      for (const length of this.#lengths) {
        const e = s + length;
        if (e > end) break;
        if (e !== end && !ENDS_BEFORE[text[e]!]) continue;
        if (--budget.candidatesLeft < 0) {
          budget.stopped = "candidates";
          return found;
        }
        const owners = this.#known.lookupRange(text, s, e);
        if (owners === undefined) continue;
        found = true;
        hits.push(report ? { ...report, owners } : { start: s, end: e, form: "raw", owners });
        if (report) return true;
      }
    }
    if (depth >= MAX_DEPTH) return found;
    const before = hits.length;
    this.#decodedForms(text, start, end, depth, hits, budget, report);
    return found || hits.length > before;
  }

  /**
   * Decoded bytes that are mostly text are searched like text; binary ones (what decoding an
   * ordinary identifier or a hash yields) only as a whole, which is one length check.
   */
  #searchDecoded(
    decoded: Buffer,
    depth: number,
    hits: KnownHit[],
    budget: SearchBudget,
    report: { start: number; end: number; form: KnownForm },
  ): void {
    let binary = 0;
    for (const b of decoded) if (b < 0x20 ? b !== 0x09 && b !== 0x0a && b !== 0x0d : b > 0x7e) binary++;
    if (binary * 10 <= decoded.length) {
      this.search(decoded, depth + 1, hits, budget, report);
      return;
    }
    const owners = this.#known.lookup(decoded);
    if (owners !== undefined) hits.push({ ...report, owners });
  }

  #decodedForms(
    text: Buffer,
    start: number,
    end: number,
    depth: number,
    hits: KnownHit[],
    budget: SearchBudget,
    report: { start: number; end: number; form: KnownForm } | undefined,
  ): void {
    const at = (s: number, e: number, form: KnownForm) => report ?? { start: s, end: e, form };
    const token = text.subarray(start, end);
    if (token.includes(PERCENT)) {
      const decoded = urlDecode(token);
      if (decoded) this.#searchDecoded(decoded, depth, hits, budget, at(start, end, "url"));
    }
    // base64 / base64url runs (with their padding).
    for (let s = start; s < end; ) {
      if (!BASE64[text[s]!]) {
        s++;
        continue;
      }
      let e = s;
      while (e < end && BASE64[text[e]!]) e++;
      let padded = e;
      while (padded < end && padded - e < 2 && text[padded] === EQUALS) padded++;
      if (e - s >= this.#minBase64) {
        const decoded = Buffer.from(text.subarray(s, e).toString("latin1"), "base64");
        if (decoded.length >= this.#known.minLength)
          this.#searchDecoded(decoded, depth, hits, budget, at(s, padded, "base64"));
      }
      s = Math.max(padded, e);
    }
    for (let s = start; s < end; ) {
      if (!HEX[text[s]!]) {
        s++;
        continue;
      }
      let e = s;
      while (e < end && HEX[text[e]!]) e++;
      if (e - s >= this.#minHex) {
        const even = e - ((e - s) % 2);
        const decoded = Buffer.from(text.subarray(s, even).toString("latin1"), "hex");
        this.#searchDecoded(decoded, depth, hits, budget, at(s, even, "hex"));
      }
      s = e;
    }
  }
}

const searches = new WeakMap<KnownValueSet, KnownValueSearch>();

/** A search's hits, and why it stopped early if it did (the file was then not fully searched). */
export interface KnownSearchResult {
  hits: KnownHit[];
  stopped?: "candidates" | "time";
}

/**
 * Every place in `text` where a recorded value appears, raw or encoded, within the per-file
 * candidate cap and before `deadline` (a `performance.now()` time).
 */
export function searchKnownValues(
  text: Buffer,
  known: KnownValueSet,
  deadline = Number.POSITIVE_INFINITY,
): KnownSearchResult {
  if (known.size === 0) return { hits: [] };
  let search = searches.get(known);
  if (search === undefined) {
    search = new KnownValueSearch(known);
    searches.set(known, search);
  }
  const hits: KnownHit[] = [];
  const budget: SearchBudget = {
    candidatesLeft: MAX_CANDIDATES_BASE + Math.floor(text.length * MAX_CANDIDATES_PER_BYTE),
    deadline,
    tokens: 0,
  };
  search.search(text, 0, hits, budget);
  return budget.stopped === undefined ? { hits } : { hits, stopped: budget.stopped };
}

/** Every place in `text` where a recorded value appears (see searchKnownValues for the limits). */
export function findKnownValues(text: Buffer, known: KnownValueSet): KnownHit[] {
  return searchKnownValues(text, known).hits;
}
