import { parseArgs } from "node:util";
import { type AuditRecord, type AuditReport, openStateAuditLog } from "../audit/index.js";
import { printable } from "../secret/printable.js";
import { type CliIo, type Command, EXIT_FINDINGS, EXIT_OK, usageError, writeJson, writeLine } from "./io.js";

const SYNOPSIS = "audit [--verify] [--json] [--state DIR]";
const DEFAULT_STATE = "/var/lib/keyhold";

/** `keyhold audit`: show the audit log, or verify it (exit 3 on any problem). */
export const auditCommand: Command = async (argv, io) => {
  let values: { verify?: boolean; json?: boolean; state?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        verify: { type: "boolean" },
        json: { type: "boolean" },
        state: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    const reason = err instanceof Error ? (err.message.split("\n")[0] ?? "") : "";
    throw usageError(
      reason.replace(/\.$/, "").replace(/^./, (c) => c.toLowerCase()),
      `usage: keyhold ${SYNOPSIS}`,
    );
  }
  if (values.help) {
    writeLine(io.stdout, `usage: keyhold ${SYNOPSIS}`);
    return EXIT_OK;
  }
  const state = values.state ?? (io.env.KEYHOLD_STATE || DEFAULT_STATE);
  const log = await openStateAuditLog(state, { env: io.env });
  if (values.verify) {
    const report = await log.verify();
    if (values.json) writeJson(io, { path: log.path, ...report });
    else printReport(io, log.path, report);
    return report.ok ? EXIT_OK : EXIT_FINDINGS;
  }
  const records = await log.read();
  if (values.json) writeJson(io, records);
  else printRecords(io, records);
  return EXIT_OK;
};

function printReport(io: CliIo, path: string, report: AuditReport): void {
  if (report.ok) {
    const tip = report.head ? `; head seq ${report.head.seq} sha256 ${report.head.hash}` : "";
    writeLine(io.stdout, `${path}: ${report.records} records, chain and head verify${tip}`);
    return;
  }
  for (const p of report.problems) {
    writeLine(io.stderr, `keyhold: audit: ${p.kind}${p.seq === null ? "" : ` (seq ${p.seq})`}: ${p.message}`);
  }
  const n = report.problems.length;
  writeLine(
    io.stderr,
    `keyhold: ${path} failed verification: ${n} problem${n === 1 ? "" : "s"} in ${report.records} records [AUDIT_TAMPERED]`,
  );
}

function printRecords(io: CliIo, records: AuditRecord[]): void {
  const rows = records.map((r) =>
    [
      String(r.seq),
      r.time,
      r.op,
      r.name ?? "-",
      r.code ? `${r.result}:${r.code}` : r.result,
      String(r.uid),
      r.sudoUser ?? "-",
    ].map(printable),
  );
  const header = ["SEQ", "TIME", "OP", "NAME", "RESULT", "UID", "SUDO_USER"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  for (const row of [header, ...rows]) {
    writeLine(
      io.stdout,
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "),
    );
  }
}
