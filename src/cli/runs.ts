// The client half of src/jobs only, as in trigger.ts.
import { listRuns } from "../jobs/client.js";
import { DEFAULT_SOCKET } from "../jobs/protocol.js";
import { commandArgs } from "./args.js";
import { type Command, EXIT_OK, usageError, writeJson, writeLine } from "./io.js";

const SYNOPSIS = "runs [--limit N] [--json] [--socket PATH]";

/** `keyhold runs`: the job server's recent runs, newest first. */
export const runsCommand: Command = async (argv, io) => {
  const args = commandArgs(argv, io, {
    synopsis: SYNOPSIS,
    store: false,
    options: { limit: { type: "string" }, json: { type: "boolean" }, socket: { type: "string" } },
    positionals: 0,
  });
  if (args === undefined) return EXIT_OK;
  const { values } = args;
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw usageError("--limit must be an integer from 1 to 1000");
  const runs = await listRuns(
    { socket: values.socket ?? io.env.KEYHOLD_JOBS_SOCKET ?? DEFAULT_SOCKET },
    limit,
  );
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
};
