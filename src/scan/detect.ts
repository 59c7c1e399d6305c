import type { KnownOwner, KnownValueSet } from "./fingerprint-index.js";
import { findKnownValues, type KnownForm } from "./known-values.js";
import { hasSequentialRun, type Rule } from "./rule.js";

/** The rule id of a stored value found by its keyed fingerprint. */
export const KNOWN_VALUE_RULE = "keyhold-known-value";
/** A line holding this marker is not reported (inline ignore). */
export const INLINE_IGNORE = "keyhold:allow";

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
}

// Specific formats outrank the generic ones when they overlap; a known value outranks all.
function rank(rule: string): number {
  if (rule === KNOWN_VALUE_RULE) return 0;
  if (rule === "generic-secret-assignment") return 3;
  if (rule === "dotenv-tracked" || rule === "url-credentials") return 2;
  return 1;
}

function keywordHit(rule: Rule, text: string): boolean {
  if (rule.keywords instanceof RegExp) return rule.keywords.test(text);
  for (const k of rule.keywords) if (text.includes(k)) return true;
  return false;
}

/**
 * Runs the pattern rules and the known-value search over one file's bytes. The text is
 * handled as latin1 so that string offsets are byte offsets and any byte sequence (UTF-8 or
 * not) round-trips.
 */
export function detect(
  bytes: Buffer,
  path: string,
  rules: readonly Rule[],
  known: KnownValueSet | undefined,
): Detection[] {
  const text = bytes.toString("latin1");
  const raw: Omit<Detection, "line" | "column">[] = [];
  for (const rule of rules) {
    if (rule.paths && !rule.paths.test(path)) continue;
    if (!keywordHit(rule, text)) continue;
    const pattern = rule.pattern;
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      if (m[0].length === 0) {
        pattern.lastIndex++;
        continue;
      }
      const secret = m.groups?.secret ?? m[0];
      if (rule.confirm) {
        const from = Math.max(0, m.index - 64);
        const lineStart = text.lastIndexOf("\n", m.index - 1) + 1;
        if (!rule.confirm(secret, m.groups ?? {}, text.slice(Math.max(from, lineStart), m.index))) continue;
      }
      // Hand-typed fakes (ghp_0123456789abcdef…) in tests and docs are not leaks.
      if (hasSequentialRun(secret)) continue;
      const start = m.groups?.secret === undefined ? m.index : m.index + m[0].lastIndexOf(secret);
      raw.push({ rule: rule.id, start, end: start + secret.length, secret });
    }
  }
  if (known) {
    for (const hit of findKnownValues(bytes, known)) {
      raw.push({
        rule: KNOWN_VALUE_RULE,
        start: hit.start,
        end: hit.end,
        secret: text.slice(hit.start, hit.end),
        owners: hit.owners,
        form: hit.form,
      });
    }
  }
  if (raw.length === 0) return raw as Detection[];
  return place(text, dropOverlaps(raw));
}

function dropOverlaps<T extends { rule: string; start: number; end: number }>(found: T[]): T[] {
  found.sort((a, b) => rank(a.rule) - rank(b.rule) || a.start - b.start);
  const kept: T[] = [];
  for (const f of found) {
    const overlaps = kept.some(
      (k) => f.start < k.end && k.start < f.end && (rank(k.rule) < rank(f.rule) || k.rule === f.rule),
    );
    if (!overlaps) kept.push(f);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/** Adds line and column, and drops matches on lines carrying the inline ignore marker. */
function place(text: string, found: Omit<Detection, "line" | "column">[]): Detection[] {
  const placed: Detection[] = [];
  let line = 1;
  let lineStart = 0;
  let cursor = 0;
  for (const f of found) {
    for (let nl = text.indexOf("\n", cursor); nl >= 0 && nl < f.start; nl = text.indexOf("\n", nl + 1)) {
      line++;
      lineStart = nl + 1;
    }
    cursor = lineStart;
    const lineEnd = text.indexOf("\n", f.start);
    const lineText = text.slice(lineStart, lineEnd < 0 ? text.length : lineEnd);
    if (lineText.includes(INLINE_IGNORE)) continue;
    placed.push({ ...f, line, column: f.start - lineStart + 1 });
  }
  return placed;
}
