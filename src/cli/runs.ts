// The client half of src/jobs only, as in trigger.ts.
import { deleteRunLog, listRuns } from "../jobs/client.js";
import { DEFAULT_SOCKET } from "../jobs/protocol.js";
import { defineCommand, type OptionTable, type RunContext, SOCKET_OPTION, JSON_OUTPUT } from "./command.js";
import { EXIT_OK, usageError, writeJson, writeLine } from "./io.js";

const OPTIONS = {
  limit: { type: "string", arg: "N", description: "how many runs to list, 1 to 1000 (default 20)" },
  json: JSON_OUTPUT,
  "delete-log": {
    type: "string",
    multiple: true,
    arg: "ID",
    description: "ask the server to remove the log of finished run ID (repeatable); the record stays",
  },
  socket: SOCKET_OPTION,
} as const satisfies OptionTable;

export const runs = defineCommand({
  name: "runs",
  synopsis: "runs [--limit N] [--json] [--delete-log ID]... [--socket PATH]",
  help:
    "Lists the job server's recent runs, newest first. With --delete-log, removes finished runs' logs " +
    "instead: logs/ belongs to the server (so nobody can plant a name in it), and the server removes a " +
    "log when asked, or when its run record is pruned beyond keepRuns.",
  store: false,
  options: OPTIONS,
  positionals: 0,
  run: runsCommand,
});

/** `keyhold runs`: the job server's recent runs, newest first. */
async function runsCommand({ values, io }: RunContext<typeof OPTIONS>): Promise<number> {
  const socket = values.socket ?? io.env.KEYHOLD_JOBS_SOCKET ?? DEFAULT_SOCKET;
  const deletions = values["delete-log"] ?? [];
  if (deletions.length > 0) {
    if (values.limit !== undefined) throw usageError("--delete-log lists nothing; drop --limit");
    const removed = [];
    for (const id of deletions) {
      const run = await deleteRunLog({ socket }, id);
      removed.push(run);
      if (!values.json) writeLine(io.stdout, `removed the log of run ${run.id} (${run.job})`);
    }
    if (values.json) writeJson(io, removed);
    return EXIT_OK;
  }
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw usageError("--limit must be an integer from 1 to 1000");
  const runs = await listRuns({ socket }, limit);
  if (values.json) {
    writeJson(io, runs);
    return EXIT_OK;
  }
  writeLine(
    io.stdout,
    `${"ID".padEnd(18)}  ${"JOB".padEnd(16)}  ${"STATE".padEnd(11)}  ${"EXIT".padEnd(7)}  ${"STARTED".padEnd(24)}  USER`,
  );
  for (const r of runs) {
    const exit = r.signal ?? (r.exitCode === null ? "-" : String(r.exitCode));
    const user = r.requester.user === null ? "-" : `${r.requester.user}?`;
    writeLine(
      io.stdout,
      `${r.id.padEnd(18)}  ${r.job.padEnd(16)}  ${r.state.padEnd(11)}  ${exit.padEnd(7)}  ${(r.startedAt ?? r.queuedAt).padEnd(24)}  ${user}`,
    );
  }
  return EXIT_OK;
}
