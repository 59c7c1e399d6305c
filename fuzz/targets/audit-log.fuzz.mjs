// Audit records and head (src/audit/format.ts, verify.ts).
// Mode 0 (first byte even): any bytes as a head and a log, verified under a fixed key. Invariants: verifyLog never
// throws; `ok` exactly when there is no problem; every problem has a known kind; a record line
// that parses re-seals to the very same bytes.
// Mode 1 (first byte odd): fields chosen by the fuzzer sealed into records and a head, then verified. Invariant:
// parse(seal(fields)) round-trips and the log verifies clean.
import { FuzzedDataProvider } from "@jazzer.js/core";
import { parseHead, parseRecordLine, sealHead, sealRecord, sha256Hex } from "../../dist/src/audit/format.js";
import { verifyLog } from "../../dist/src/audit/verify.js";
import { SecretKey } from "../../dist/src/secret/index.js";
import { check } from "../support.mjs";

export const KEY = SecretKey.fromBytes(Buffer.alloc(32, 0x5a));
const KINDS = new Set(["edited", "deleted", "reordered", "truncated", "malformed", "bad-head"]);
const GENESIS = "0".repeat(64);

function checkReport(report, lines) {
  check(report.ok === (report.problems.length === 0), "ok disagrees with the problem list");
  check(report.records === lines, `records ${report.records} for ${lines} lines`);
  for (const p of report.problems) {
    check(KINDS.has(p.kind), `problem kind ${p.kind}`);
    check(typeof p.message === "string" && p.message.length > 0, "problem without a message");
  }
}

function arbitrary(data) {
  // The head's text, a NUL, then the log; no NUL: a log without a head.
  const nul = data.indexOf(0);
  const head = nul < 0 ? null : data.subarray(0, nul).toString("utf8");
  const log = Buffer.from(nul < 0 ? data : data.subarray(nul + 1));
  const report = verifyLog(log, head, KEY);
  checkReport(report, log.toString("latin1").split("\n").length - 1);
  for (const line of log.toString("utf8").split("\n")) {
    const parsed = parseRecordLine(line, KEY);
    if (parsed.kind !== "record") continue;
    const { mac, ...fields } = parsed.record;
    const resealed = sealRecord(fields, KEY);
    check(resealed.line === line, "a record that verifies is not in canonical form");
    check(resealed.record.mac === mac, "re-sealing changes the MAC");
  }
  if (head !== null) {
    const parsedHead = parseHead(head, KEY);
    if (typeof parsedHead !== "string") check(sealHead(parsedHead, KEY) === head, "head does not round-trip");
  }
}

function text(p) {
  return p.consumeString(p.consumeIntegralInRange(0, 40), "utf-16le");
}

function sealed(data) {
  const p = new FuzzedDataProvider(data);
  const count = p.consumeIntegralInRange(0, 4);
  const lines = [];
  let prev = GENESIS;
  for (let seq = 1; seq <= count; seq++) {
    const fields = { v: 1, seq, time: text(p), uid: p.consumeIntegralInRange(0, 2 ** 31), pid: 1 + p.consumeIntegralInRange(0, 2 ** 22) };
    if (p.consumeBoolean()) fields.sudoUser = text(p);
    fields.op = text(p) || "op";
    if (p.consumeBoolean()) fields.name = text(p);
    fields.result = p.pickValue(["ok", "denied", "error"]);
    if (p.consumeBoolean()) fields.code = text(p);
    if (p.consumeBoolean()) {
      // As AuditLog.append admits them: strings, booleans and finite numbers, as own properties
      // ("__proto__" included).
      const entries = [];
      for (let i = p.consumeIntegralInRange(0, 3); i > 0; i--) {
        const kind = p.consumeIntegralInRange(0, 2);
        const number = p.consumeNumber();
        entries.push([text(p), kind === 0 ? text(p) : kind === 1 ? p.consumeBoolean() : Number.isFinite(number) ? number : 0]);
      }
      fields.detail = Object.fromEntries(entries);
    }
    fields.prev = prev;
    const { line, record } = sealRecord(fields, KEY);
    const parsed = parseRecordLine(line, KEY);
    check(parsed.kind === "record", `a sealed record does not parse: ${JSON.stringify(parsed)}`);
    check(JSON.stringify(parsed.record) === JSON.stringify(record), "parse(seal(record)) differs");
    lines.push(line);
    prev = sha256Hex(Buffer.from(line, "utf8"));
  }
  const log = Buffer.from(lines.map((l) => `${l}\n`).join(""), "utf8");
  const head = sealHead({ seq: count, size: log.length, hash: prev }, KEY);
  const report = verifyLog(log, head, KEY);
  checkReport(report, count);
  check(report.ok, `a log sealed by keyhold does not verify: ${JSON.stringify(report.problems)}`);
}

export function fuzz(data) {
  if (data.length > 0 && data[0] & 1) sealed(data.subarray(1));
  else arbitrary(data.subarray(1));
}
