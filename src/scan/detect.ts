import type { KnownOwner, KnownValueSet } from "./fingerprint-index.js";
import { type KnownForm, searchKnownValues } from "./known-values.js";
import { secretDataValues } from "./kubernetes-secret.js";
import { prefilterFor } from "./prefilter.js";
import { isStandIn, type Rule } from "./rule.js";

/** The rule id of a stored value found by its keyed fingerprint. */
export const KNOWN_VALUE_RULE = "keyhold-known-value";
/**
 * The rule id of the note that a file was not fully scanned (its time budget ran out, or the
 * stored-value search reached its candidate cap) or had more findings than are reported. It is
 * a finding, so the scan does not come out clean.
 */
export const INCOMPLETE_RULE = "keyhold-scan-incomplete";
/** A line holding this marker is not reported (inline ignore). */
export const INLINE_IGNORE = "keyhold:allow";
/**
 * Findings reported per file; past it, one INCOMPLETE_RULE finding counts the rest. A file with
 * more is generated or hostile, and listing them all made a report hundreds of MB long.
 */
export const MAX_FINDINGS_PER_FILE = 1000;
/**
 * Wall-clock budget for one file's rules and stored-value search. With linear patterns an 8 MiB
 * file takes well under a second; this is the safety net for a pattern that is not. It is read
 * between matches, between rules and every 64 tokens of the stored-value search, so it bounds
 * the scan of a file, not a single regular-expression match.
 */
export const FILE_TIME_BUDGET_MS = 10_000;

/** Limits for one file (tests lower them). */
export interface DetectLimits {
  maxFindings?: number;
  budgetMs?: number;
  /** False inside a decoded value: what is decoded is not decoded again (one level). */
  decode?: boolean;
}

/** One match in one text, before it is placed in a file or commit. */
export interface Detection {
  rule: string;
  /** Byte offsets of the secret (for encoded known values: of the encoded run). */
  start: number;
  end: number;
  /** 1-based line and byte column of `start`. */
  line: number;
  column: number;
  /** The matched text. Internal: never printed, serialised or written; see report.ts. */
  secret: string;
  owners?: KnownOwner[];
  form?: KnownForm;
  /** INCOMPLETE_RULE only: what was not scanned or reported (no value in it). */
  note?: string;
}

// Specific formats outrank the generic ones when they overlap; a known value outranks all.
function rank(rule: string): number {
  if (rule === KNOWN_VALUE_RULE) return 0;
  if (rule === "generic-secret-assignment") return 3;
  if (rule === "dotenv-tracked" || rule === "url-credentials") return 2;
  return 1;
}

/**
 * Runs the pattern rules and the known-value search over one file's bytes. The text is
 * handled as latin1 so that string offsets are byte offsets and any byte sequence (UTF-8 or
 * not) round-trips. Every step is linear in the text and the number of matches.
 */
export function detect(
  bytes: Buffer,
  path: string,
  rules: readonly Rule[],
  known: KnownValueSet | undefined,
  limits: DetectLimits = {},
): Detection[] {
  const maxFindings = limits.maxFindings ?? MAX_FINDINGS_PER_FILE;
  const budgetMs = limits.budgetMs ?? FILE_TIME_BUDGET_MS;
  const deadline = performance.now() + budgetMs;
  const text = bytes.toString("latin1");
  const raw: Omit<Detection, "line" | "column">[] = [];
  let incomplete: string | undefined;
  // Every rule's keywords in one pass over the text (prefilter.ts).
  const keywordHits = prefilterFor(rules).hits(bytes, text);
  scan: for (const rule of rules) {
    if (performance.now() > deadline) {
      incomplete = `the ${budgetMs / 1000} s budget per file ran out before rule ${rule.id}; it and the rules after it did not run`;
      break;
    }
    if (rule.paths && !rule.paths.test(path)) continue;
    if (!keywordHits.has(rule)) continue;
    const forms = (rule.forms ?? []).filter(
      (f) => (!f.paths || f.paths.test(path)) && (!f.when || f.when.test(text)),
    );
    const alone = forms.filter((f) => f.alone);
    const passes = alone.length > 0 ? alone : [{ context: undefined, pattern: rule.pattern }, ...forms];
    for (const { context, pattern } of passes) {
      pattern.lastIndex = 0;
      for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
        if (performance.now() > deadline) {
          incomplete = `the ${budgetMs / 1000} s budget per file ran out in rule ${rule.id} at byte ${m.index}; the rules after it did not run`;
          break scan;
        }
        if (m[0].length === 0) {
          pattern.lastIndex++;
          continue;
        }
        const secret = m.groups?.secret ?? m[0];
        if (rule.confirm) {
          // Up to 64 characters of the line before the match (not a search back to the line's
          // start, which is quadratic for many matches on one long line).
          const before = text.slice(Math.max(0, m.index - 64), m.index);
          if (!rule.confirm(secret, m.groups ?? {}, before.slice(before.lastIndexOf("\n") + 1), context))
            continue;
        }
        // Hand-typed fakes, fillers and documentation's example keys are not leaks.
        if (isStandIn(secret)) continue;
        const start = m.groups?.secret === undefined ? m.index : m.index + m[0].lastIndexOf(secret);
        raw.push({ rule: rule.id, start, end: start + secret.length, secret });
      }
    }
  }
  if (limits.decode !== false && incomplete === undefined) {
    incomplete = scanSecretData(text, rules, deadline, raw);
  }
  if (known && incomplete === undefined) {
    const search = searchKnownValues(bytes, known, deadline);
    for (const hit of search.hits) {
      raw.push({
        rule: KNOWN_VALUE_RULE,
        start: hit.start,
        end: hit.end,
        secret: text.slice(hit.start, hit.end),
        owners: hit.owners,
        form: hit.form,
      });
    }
    if (search.stopped === "time") {
      incomplete = `the ${budgetMs / 1000} s budget per file ran out in the search for stored values`;
    }
    if (search.stopped === "candidates") {
      incomplete =
        "the search for stored values reached its cap on candidates (text dense with : / = & ? @ #)";
    }
  } else if (known) {
    incomplete += "; stored values were not searched";
  }
  const placed = raw.length === 0 ? [] : place(text, dropOverlaps(raw));
  const reported = placed.length > maxFindings ? placed.slice(0, maxFindings) : placed;
  const notes: Detection[] = [];
  if (incomplete !== undefined) {
    notes.push(note(1, 1, `not fully scanned: ${incomplete}`));
  }
  const first = placed[maxFindings];
  if (first !== undefined) {
    notes.push(
      note(
        first.line,
        first.column,
        `${placed.length - maxFindings} more findings not reported (at most ${maxFindings} per file)`,
      ),
    );
  }
  return notes.length === 0 ? reported : [...reported, ...notes];
}

/**
 * Scans each base64 value of a Kubernetes Secret's `data:` decoded (kubernetes-secret.ts), as a
 * file named after its key, with every rule; the best-ranked match in it is reported at the
 * base64 value on the manifest's line. Returns why the scan stopped early, if it did.
 */
function scanSecretData(
  text: string,
  rules: readonly Rule[],
  deadline: number,
  raw: Omit<Detection, "line" | "column">[],
): string | undefined {
  for (const value of secretDataValues(text)) {
    const budgetMs = deadline - performance.now();
    if (budgetMs <= 0) return "the budget per file ran out in the values of a Kubernetes Secret";
    const inner = detect(value.decoded, value.name, rules, undefined, { budgetMs, decode: false });
    const stopped = inner.find((d) => d.rule === INCOMPLETE_RULE && d.note?.includes("budget"));
    if (stopped) return "the budget per file ran out in the values of a Kubernetes Secret";
    let best: Detection | undefined;
    for (const d of inner)
      if (d.rule !== INCOMPLETE_RULE && (best === undefined || rank(d.rule) < rank(best.rule))) best = d;
    if (best !== undefined)
      raw.push({
        rule: best.rule,
        start: value.start,
        end: value.end,
        secret: text.slice(value.start, value.end),
      });
  }
  return undefined;
}

function note(line: number, column: number, text: string): Detection {
  return { rule: INCOMPLETE_RULE, start: 0, end: 0, line, column, secret: "", note: text };
}

/**
 * Keeps the first of overlapping matches in (rank, start) order: a match is dropped when it
 * overlaps a kept match of a better rank or of the same rule. Ranks are taken in order, so the
 * kept matches of better ranks are fixed while a rank is swept; they are held sorted by start
 * with a running maximum of their ends, so each overlap test is a binary search (the old
 * `kept.some` made this quadratic in the matches of a file).
 */
function dropOverlaps<T extends { rule: string; start: number; end: number }>(found: T[]): T[] {
  found.sort((a, b) => rank(a.rule) - rank(b.rule) || a.start - b.start);
  const kept: T[] = [];
  let better: { starts: number[]; maxEnds: number[] } = { starts: [], maxEnds: [] };
  let currentRank = -1;
  let keptBefore = 0;
  // Same rule: matches come in start order, so the furthest end kept so far decides.
  const furthestEnd = new Map<string, number>();
  for (const f of found) {
    const r = rank(f.rule);
    if (r !== currentRank) {
      currentRank = r;
      if (kept.length > keptBefore) better = sweepIndex(kept);
      keptBefore = kept.length;
    }
    if ((furthestEnd.get(f.rule) ?? -1) > f.start) continue;
    if (overlapsAny(better, f.start, f.end)) continue;
    kept.push(f);
    furthestEnd.set(f.rule, Math.max(furthestEnd.get(f.rule) ?? -1, f.end));
  }
  return kept.sort((a, b) => a.start - b.start);
}

function sweepIndex(spans: readonly { start: number; end: number }[]): {
  starts: number[];
  maxEnds: number[];
} {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const starts: number[] = [];
  const maxEnds: number[] = [];
  let max = -1;
  for (const s of sorted) {
    max = Math.max(max, s.end);
    starts.push(s.start);
    maxEnds.push(max);
  }
  return { starts, maxEnds };
}

/** Whether some span with start < end reaches past `start`. */
function overlapsAny(index: { starts: number[]; maxEnds: number[] }, start: number, end: number): boolean {
  let lo = 0;
  let hi = index.starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (index.starts[mid]! < end) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && index.maxEnds[lo - 1]! > start;
}

/**
 * Adds line and column, and drops matches on lines carrying the inline ignore marker. The
 * matches come in start order; each line is found and checked for the marker once.
 */
function place(text: string, found: Omit<Detection, "line" | "column">[]): Detection[] {
  const placed: Detection[] = [];
  let line = 1;
  let lineStart = 0;
  let lineEnd = lineEndAt(text, 0);
  let ignored: boolean | undefined;
  for (const f of found) {
    while (lineEnd < f.start) {
      line++;
      lineStart = lineEnd + 1;
      lineEnd = lineEndAt(text, lineStart);
      ignored = undefined;
    }
    ignored ??= text.slice(lineStart, lineEnd).includes(INLINE_IGNORE);
    if (ignored) continue;
    placed.push({ ...f, line, column: f.start - lineStart + 1 });
  }
  return placed;
}

function lineEndAt(text: string, from: number): number {
  const nl = text.indexOf("\n", from);
  return nl < 0 ? text.length : nl;
}
