import { type AuditRecord, type AuditReport, openStateAuditLog } from "../audit/index.js";
import { stateDirectory } from "../defaults.js";
import { printable } from "../secret/printable.js";
import { defineCommand, type OptionTable, type RunContext, JSON_OUTPUT } from "./command.js";
import { type CliIo, EXIT_FINDINGS, EXIT_OK, usageError, writeJson, writeLine } from "./io.js";

const SYNOPSIS = "audit [--verify] [--json] [--state DIR] [--key FILE] | audit --restart [--state DIR]";

const OPTIONS = {
  verify: { type: "boolean", description: "check the chain and the sealed head; exit 3 on any problem" },
  json: JSON_OUTPUT,
  restart: {
    type: "boolean",
    description: "start a new log deliberately; the old files are kept, the restart is its first record",
  },
  state: {
    type: "string",
    arg: "DIR",
    complete: "directory",
    description: "keyhold's state directory (default $KEYHOLD_STATE or /var/lib/keyhold)",
  },
  // The sealed key, when it is not <state>/keyhold.audit-key: a job server's own
  // (/var/lib/keyhold/keyhold-jobs.audit-key) beside its log in its state directory.
  key: {
    type: "string",
    arg: "FILE",
    complete: "file",
    description: "the sealed audit key, when it is not <state>/keyhold.audit-key (a job server's own)",
  },
} as const satisfies OptionTable;

export const audit = defineCommand({
  name: "audit",
  synopsis: SYNOPSIS,
  help: "Shows the audit log, verifies it (--verify), or starts a new one deliberately (--restart).",
  store: false,
  options: OPTIONS,
  positionals: 0,
  run: auditCommand,
});

/**
 * `keyhold audit`: show the audit log, or verify it (exit 3 on any problem), or start a new one
 * deliberately (--restart: the old files are kept, the restart is the new log's first record).
 */
async function auditCommand({ values, io }: RunContext<typeof OPTIONS>): Promise<number> {
  if (values.restart && (values.verify || values.json))
    throw usageError("--restart takes no --verify or --json", `usage: keyhold ${SYNOPSIS}`);
  const state = stateDirectory(io.env, values.state);
  const log = await openStateAuditLog(state, { env: io.env }, values.key);
  if (values.restart) {
    const { previous, moved } = await log.restart();
    const before =
      previous === null ? "nothing sealed before it" : `the old one was sealed at seq ${previous.seq}`;
    writeLine(
      io.stdout,
      `started a new audit log at ${log.path} (${before}); its first record is audit.restart`,
    );
    for (const { from, to } of moved) writeLine(io.stdout, `kept ${from} as ${to}`);
    return EXIT_OK;
  }
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
}

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
