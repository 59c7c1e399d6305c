import { createHash, timingSafeEqual } from "node:crypto";
import type { SecretKey } from "../secret/index.js";

/**
 * The audit record and head formats of docs/audit-format.md, and nothing else: canonical
 * serialisation, MACs, hashes and strict parsing. Private to src/audit.
 */

export type AuditResult = "ok" | "denied" | "error";
export type AuditDetail = Record<string, string | number | boolean>;

export interface AuditEvent {
  /** "set", "rotate", "get", "run", "vault.put", "job.run", … */
  op: string;
  /** Credential or secret name (never a value). */
  name?: string;
  result: AuditResult;
  /** SecretError code when the result is "error" or "denied". */
  code?: string;
  /** Non-secret facts: version, job id, … */
  detail?: AuditDetail;
}

export interface AuditRecord extends AuditEvent {
  v: 1;
  seq: number;
  time: string;
  uid: number;
  sudoUser?: string;
  pid: number;
  prev: string;
  mac: string;
}

export interface AuditHead {
  seq: number;
  /** Byte length of the log up to and including the sealed record's newline. */
  size: number;
  hash: string;
}

export const GENESIS = "0".repeat(64);
/** The head of a log with no records: written when the log (or the key, as its anchor) is created. */
export const HEAD_ZERO: AuditHead = { seq: 0, size: 0, hash: GENESIS };
export const RECORD_MAC_LABEL = "keyhold-audit-record-v1\n";
export const HEAD_MAC_LABEL = "keyhold-audit-head-v1\n";
export const ANCHOR_MAC_LABEL = "keyhold-audit-anchor-v1\n";
export const MAX_RECORD_BYTES = 64 * 1024;

const HEX64 = /^[0-9a-f]{64}$/;
const RESULTS: readonly string[] = ["ok", "denied", "error"];
// Field order of the canonical form (docs/audit-format.md, "A record").
const RECORD_FIELDS = [
  "v",
  "seq",
  "time",
  "uid",
  "sudoUser",
  "pid",
  "op",
  "name",
  "result",
  "code",
  "detail",
  "prev",
];
const OPTIONAL_FIELDS = new Set(["sudoUser", "name", "code", "detail"]);
const HEAD_FIELDS = ["v", "seq", "size", "hash"];

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The canonical JSON of `value`'s `fields`, in that order, absent optional ones left out. */
function canonicalJson(value: Record<string, unknown>, fields: readonly string[]): string {
  const parts: string[] = [];
  for (const field of fields) {
    const v = value[field];
    if (v === undefined) continue;
    parts.push(
      `${JSON.stringify(field)}:${field === "detail" ? canonicalDetail(v as AuditDetail) : JSON.stringify(v)}`,
    );
  }
  return `{${parts.join(",")}}`;
}

function canonicalDetail(detail: AuditDetail): string {
  const keys = Object.keys(detail).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(detail[k])}`).join(",")}}`;
}

function macHex(key: SecretKey, label: string, body: string): string {
  return key.hmac(Buffer.from(label + body, "utf8")).toString("hex");
}

function sameHex(a: string, b: string): boolean {
  // Compared as bytes: a string of the same length may be longer in UTF-8 (timingSafeEqual throws).
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The record's line (without "\n"): the body with its MAC spliced in as the last field. */
export function sealRecord(
  fields: Omit<AuditRecord, "mac">,
  key: SecretKey,
): { line: string; record: AuditRecord } {
  const body = canonicalJson(fields as unknown as Record<string, unknown>, RECORD_FIELDS);
  const mac = macHex(key, RECORD_MAC_LABEL, body);
  const line = `${body.slice(0, -1)},"mac":"${mac}"}`;
  return { line, record: JSON.parse(line) as AuditRecord }; // the record in canonical field order
}

export type ParsedLine =
  | { kind: "record"; record: AuditRecord }
  | { kind: "malformed"; seq: number | null; reason: string }
  | { kind: "bad-mac"; seq: number | null };

function isDetail(value: unknown): value is AuditDetail {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  return Object.values(value).every(
    (v) => typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)),
  );
}

function isNonNegativeInt(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** Why `value` is not an audit record (without its MAC checked), or undefined if it is one. */
function shapeProblem(value: Record<string, unknown>): string | undefined {
  for (const field of Object.keys(value)) {
    if (field !== "mac" && !RECORD_FIELDS.includes(field)) return `unknown field ${JSON.stringify(field)}`;
  }
  for (const field of RECORD_FIELDS) {
    if (value[field] === undefined && !OPTIONAL_FIELDS.has(field)) return `missing field ${field}`;
  }
  const r = value as Partial<Record<string, unknown>>;
  if (r.v !== 1) return "unsupported version";
  if (!isNonNegativeInt(r.seq) || r.seq < 1) return "bad seq";
  if (typeof r.time !== "string") return "bad time";
  if (!isNonNegativeInt(r.uid)) return "bad uid";
  if (r.sudoUser !== undefined && typeof r.sudoUser !== "string") return "bad sudoUser";
  if (!isNonNegativeInt(r.pid) || r.pid < 1) return "bad pid";
  if (typeof r.op !== "string" || r.op.length === 0) return "bad op";
  if (r.name !== undefined && typeof r.name !== "string") return "bad name";
  if (typeof r.result !== "string" || !RESULTS.includes(r.result)) return "bad result";
  if (r.code !== undefined && typeof r.code !== "string") return "bad code";
  if (r.detail !== undefined && !isDetail(r.detail)) return "bad detail";
  if (typeof r.prev !== "string" || !HEX64.test(r.prev)) return "bad prev";
  if (typeof r.mac !== "string" || !HEX64.test(r.mac)) return "bad mac";
  return undefined;
}

/**
 * Parses one line (without "\n") strictly: JSON, exact shape, MAC under `key`, and canonical
 * form, so what the MAC covers is exactly what the parsed record says.
 */
export function parseRecordLine(line: string, key: SecretKey): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: "malformed", seq: null, reason: "not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "malformed", seq: null, reason: "not a JSON object" };
  }
  const fields = value as Record<string, unknown>;
  const seq = isNonNegativeInt(fields.seq) ? fields.seq : null;
  const problem = shapeProblem(fields);
  if (problem !== undefined) return { kind: "malformed", seq, reason: problem };
  const record = fields as unknown as AuditRecord;
  const macField = `,"mac":"${record.mac}"}`;
  if (!line.endsWith(macField)) return { kind: "malformed", seq, reason: "mac is not the last field" };
  const body = `${line.slice(0, -macField.length)}}`;
  if (!sameHex(macHex(key, RECORD_MAC_LABEL, body), record.mac)) return { kind: "bad-mac", seq };
  if (canonicalJson(fields, RECORD_FIELDS) !== body)
    return { kind: "malformed", seq, reason: "not in canonical form" };
  return { kind: "record", record };
}

/**
 * The two files that seal a position in the log: the head beside it, and the anchor kept where
 * removing the log's files does not reach (docs/audit-format.md, "The anchor"). Same fields,
 * each under its own MAC label, so neither passes for the other.
 */
export type PositionFile = "head" | "anchor";
const POSITION_LABELS: Record<PositionFile, string> = { head: HEAD_MAC_LABEL, anchor: ANCHOR_MAC_LABEL };

/** The head (or anchor) file's content (one line with "\n"). */
export function sealHead(head: AuditHead, key: SecretKey, file: PositionFile = "head"): string {
  const body = canonicalJson({ v: 1, ...head }, HEAD_FIELDS);
  return `${body.slice(0, -1)},"mac":"${macHex(key, POSITION_LABELS[file], body)}"}\n`;
}

/** Parses and authenticates a head (or anchor) file's content; a string says why it is refused. */
export function parseHead(text: string, key: SecretKey, file: PositionFile = "head"): AuditHead | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `the ${file} is not JSON`;
  }
  const h = value as Record<string, unknown>;
  if (
    typeof h !== "object" ||
    h === null ||
    Object.keys(h).length !== 5 ||
    h.v !== 1 ||
    !isNonNegativeInt(h.seq) ||
    !isNonNegativeInt(h.size) ||
    typeof h.hash !== "string" ||
    !HEX64.test(h.hash) ||
    typeof h.mac !== "string" ||
    !HEX64.test(h.mac)
  ) {
    return `the ${file} has the wrong fields`;
  }
  const head: AuditHead = { seq: h.seq, size: h.size, hash: h.hash };
  const body = canonicalJson({ v: 1, ...head }, HEAD_FIELDS);
  if (!sameHex(macHex(key, POSITION_LABELS[file], body), h.mac)) return `the ${file}'s MAC does not verify`;
  if (`${body.slice(0, -1)},"mac":"${h.mac}"}\n` !== text) return `the ${file} is not in canonical form`;
  return head;
}
