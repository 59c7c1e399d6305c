import type { SecretKey } from "../secret/index.js";
import { GENESIS, type ParsedLine, parseHead, parseRecordLine, sha256Hex } from "./format.js";

export type AuditProblemKind =
  | "edited"
  | "deleted"
  | "reordered"
  | "truncated"
  | "malformed"
  | "bad-head"
  | "bad-anchor";

export interface AuditProblem {
  /** The record's seq as written in the file; null when the line has none. */
  seq: number | null;
  kind: AuditProblemKind;
  message: string;
}

export interface AuditReport {
  ok: boolean;
  /** Complete lines in the log. */
  records: number;
  problems: AuditProblem[];
  /** The tip of the chain as read (seq and hash of the last line), to anchor elsewhere; null if empty. */
  head?: { seq: number; hash: string } | null;
}

export interface LogLine {
  raw: Buffer;
  /** Byte offset just past this line's "\n". */
  end: number;
}

/** Splits the log at "\n"; `torn` holds the bytes after the last "\n" (an interrupted append). */
export function splitLines(log: Buffer): { lines: LogLine[]; torn: Buffer } {
  const lines: LogLine[] = [];
  let start = 0;
  for (let nl = log.indexOf(0x0a, start); nl >= 0; nl = log.indexOf(0x0a, start)) {
    lines.push({ raw: log.subarray(start, nl), end: nl + 1 });
    start = nl + 1;
  }
  return { lines, torn: log.subarray(start) };
}

/** parseRecordLine for raw bytes: bytes that are not valid UTF-8 make a malformed line. */
export function parseRawLine(raw: Buffer, key: SecretKey): ParsedLine {
  const text = raw.toString("utf8");
  if (!Buffer.from(text, "utf8").equals(raw))
    return { kind: "malformed", seq: null, reason: "not valid UTF-8" };
  return parseRecordLine(text, key);
}

function seqOf(p: ParsedLine): number | null {
  return p.kind === "record" ? p.record.seq : p.seq;
}

/** The anchor as verify sees it (docs/audit-format.md, "The anchor"). */
export interface AnchorInput {
  /** The anchor file's text; null when there is none. */
  text: string | null;
  /** The anchor was made with the key: its absence next to a missing log and head is a deletion. */
  expected: boolean;
}

/**
 * The verify algorithm of docs/audit-format.md ("Verifying"), over the log's bytes, the head
 * file's text (null when there is none) and, for a log that has one, its anchor. Reads nothing
 * and changes nothing.
 */
export function verifyLog(
  log: Buffer,
  headText: string | null,
  key: SecretKey,
  anchor?: AnchorInput,
): AuditReport {
  const { lines, torn } = splitLines(log);
  const parsed = lines.map((l) => parseRawLine(l.raw, key));
  const head = headText === null ? null : parseHead(headText, key);
  const problems: AuditProblem[] = [];
  const report = (seq: number | null, kind: AuditProblemKind, message: string) =>
    problems.push({ seq, kind, message });

  // 1. Nothing authenticates: the wrong key, or everything rewritten. One finding, not one per line.
  if (
    parsed.some((p) => p.kind === "bad-mac") &&
    !parsed.some((p) => p.kind === "record") &&
    (head === null || typeof head === "string")
  ) {
    report(
      null,
      "edited",
      "no record and no head verifies under this key: the wrong audit key, or the whole log was rewritten",
    );
    return { ok: false, records: lines.length, problems, head: tipOf(lines, parsed) };
  }

  // 2-3. Walk the chain.
  let expectedSeq = 1;
  let expectedPrev = GENESIS;
  // False right after a line already reported: the next line's prev mismatch is a consequence.
  let checkPrev = true;
  parsed.forEach((p, i) => {
    const at = `line ${i + 1}`;
    if (p.kind === "malformed") {
      report(p.seq, "malformed", `${at} is not an audit record: ${p.reason}`);
      expectedSeq += 1;
      checkPrev = false;
    } else if (p.kind === "bad-mac") {
      report(
        p.seq,
        "edited",
        `${at} (seq ${p.seq ?? "?"}) fails its MAC: it was changed after it was written`,
      );
      expectedSeq += 1;
      checkPrev = false;
    } else {
      const { seq, prev } = p.record;
      if (seq > expectedSeq) {
        const missing = expectedSeq;
        const comesLater = parsed.slice(i + 1).some((q) => {
          const s = seqOf(q);
          return s !== null && s >= missing && s < seq;
        });
        const gap = seq - missing === 1 ? `seq ${missing} is` : `seqs ${missing}-${seq - 1} are`;
        if (comesLater) report(seq, "reordered", `${at}: seq ${seq} comes before seq ${missing}`);
        else report(seq, "deleted", `${at}: ${gap} missing before seq ${seq}`);
        expectedSeq = seq + 1;
        checkPrev = false;
      } else if (seq < expectedSeq) {
        report(seq, "reordered", `${at}: seq ${seq} comes after seq ${expectedSeq - 1}`);
        checkPrev = false;
      } else if (checkPrev && prev !== expectedPrev) {
        report(seq, "edited", `${at}: seq ${seq} does not chain to the line before it`);
        expectedSeq += 1;
      } else {
        expectedSeq += 1;
        checkPrev = true;
      }
    }
    expectedPrev = sha256Hex(lines[i]!.raw);
  });
  if (torn.length > 0) {
    report(
      null,
      "malformed",
      `the last line is incomplete (${torn.length} bytes without a newline): an append was interrupted; the next append discards it`,
    );
  }

  // 4. The head.
  const lastSeq = expectedSeq - 1;
  if (head === null) {
    // A log gets its head (seq 0) when it is created, so only an empty log may lack one.
    if (lines.length > 0)
      report(null, "bad-head", "the head file is missing: truncation cannot be ruled out");
  } else if (typeof head === "string") {
    report(null, "bad-head", head);
  } else if (head.seq > lastSeq) {
    const cut = `the head seals seq ${head.seq} but the log ends at seq ${lastSeq}: records were cut off the end`;
    report(head.seq, "truncated", cut);
  } else {
    // The line the head seals (-1: none, seq 0), which must be the last line or the one before.
    const j =
      head.seq === 0 ? -1 : parsed.findLastIndex((p) => p.kind === "record" && p.record.seq === head.seq);
    const clean = problems.length === 0;
    const sealed = j < 0 ? { hash: GENESIS, end: 0 } : { hash: sha256Hex(lines[j]!.raw), end: lines[j]!.end };
    if (j < 0 && head.seq > 0) {
      if (clean) report(head.seq, "bad-head", `the head seals seq ${head.seq}, which is not in the log`);
    } else if (sealed.hash !== head.hash || (clean && sealed.end !== head.size)) {
      report(head.seq, "bad-head", `the head does not match the record with seq ${head.seq}`);
    } else if (j < lines.length - 2) {
      const stale = `the head seals seq ${head.seq} but the log goes on to line ${lines.length}: the head is stale`;
      report(head.seq, "bad-head", stale);
    }
  }

  // 5. The anchor: a lower bound on the log that outlives the log's own files.
  if (anchor !== undefined) {
    const gone = lines.length === 0 && torn.length === 0 && head === null;
    const sealed = anchor.text === null ? null : parseHead(anchor.text, key, "anchor");
    if (sealed === null) {
      // Without the key's anchor, only a log with nothing left is a finding: a log from before
      // anchors gets one from its head when it is next opened.
      if (anchor.expected && gone)
        report(
          null,
          "deleted",
          "the log, its head and its anchor are gone while the audit key is there: the log was deleted (or, for a key made elsewhere, never started here: keyhold audit --restart starts it)",
        );
    } else if (typeof sealed === "string") {
      report(null, "bad-anchor", sealed);
    } else if (sealed.seq > 0 && gone) {
      const msg = `the log and its head are gone, but the anchor seals seq ${sealed.seq}: the log was deleted`;
      report(sealed.seq, "deleted", msg);
    } else if (sealed.seq > lastSeq) {
      if (!problems.some((p) => p.kind === "truncated"))
        report(
          sealed.seq,
          "truncated",
          `the anchor seals seq ${sealed.seq} but the log ends at seq ${lastSeq}: records were cut off the end`,
        );
    } else {
      const clean = problems.length === 0;
      const j =
        sealed.seq === 0
          ? -1
          : parsed.findLastIndex((p) => p.kind === "record" && p.record.seq === sealed.seq);
      const at = j < 0 ? { hash: GENESIS, end: 0 } : { hash: sha256Hex(lines[j]!.raw), end: lines[j]!.end };
      // A record already reported (edited, malformed) is not reported twice.
      if ((j >= 0 || sealed.seq === 0) && (at.hash !== sealed.hash || (clean && at.end !== sealed.size)))
        report(
          sealed.seq,
          "bad-anchor",
          `the log's record with seq ${sealed.seq} is not the one the anchor sealed: the log was replaced`,
        );
    }
  }
  return { ok: problems.length === 0, records: lines.length, problems, head: tipOf(lines, parsed) };
}

function tipOf(lines: LogLine[], parsed: ParsedLine[]): { seq: number; hash: string } | null {
  const last = lines.at(-1);
  if (last === undefined) return null;
  return { seq: seqOf(parsed.at(-1)!) ?? lines.length, hash: sha256Hex(last.raw) };
}
