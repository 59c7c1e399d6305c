import { constants } from "node:os";
// The client half of src/jobs only (not its index): `keyhold trigger` then loads a few KiB
// instead of the whole server, which is measurable in its start-up time.
import { followRun, triggerRun } from "../jobs/client.js";
import { DEFAULT_SOCKET } from "../jobs/protocol.js";
import type { RunRecord } from "../jobs/records.js";
import { isSecretError } from "../secret/index.js";
import { commandArgs } from "./args.js";
import { type Command, EXIT_FAILED, EXIT_OK, usageError, writeJson, writeLine } from "./io.js";

const SYNOPSIS = "trigger JOB [--param NAME=VALUE]… [--follow] [--json] [--socket PATH]";
/**
 * `keyhold trigger --follow` when the stream ended before the run did (STREAM_CUT): the run goes
 * on, and how it ends is not known here. A job may exit 4 itself; stderr says which it was.
 */
export const EXIT_STREAM_CUT = 4;

/** The exit code `keyhold trigger --follow` ends with: the job's own, 128+signal, else 1. */
export function exitCodeOf(run: RunRecord): number {
  if (run.state === "succeeded" || (run.state === "failed" && run.exitCode !== null && run.signal === null)) {
    return run.exitCode ?? EXIT_FAILED;
  }
  if (run.signal !== null && run.state === "failed") {
    const number = constants.signals[run.signal as keyof typeof constants.signals];
    return number === undefined ? EXIT_FAILED : 128 + number;
  }
  return EXIT_FAILED;
}

/** `keyhold trigger`: ask the job server to run a job; with --follow, stream it and exit with its code. */
export const triggerCommand: Command = async (argv, io) => {
  const args = commandArgs(argv, io, {
    synopsis: SYNOPSIS,
    store: false,
    options: {
      param: { type: "string", multiple: true },
      follow: { type: "boolean", short: "f" },
      json: { type: "boolean" },
      socket: { type: "string" },
    },
    positionals: 1,
  });
  if (args === undefined) return EXIT_OK;
  const { values, positionals } = args;
  const job = positionals[0] as string;
  const params: Record<string, string> = {};
  for (const p of values.param ?? []) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw usageError(`--param takes NAME=VALUE, got ${JSON.stringify(p.slice(0, 64))}`);
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }
  const socket = values.socket ?? io.env.KEYHOLD_JOBS_SOCKET ?? DEFAULT_SOCKET;
  if (!values.follow) {
    const run = await triggerRun({ socket }, job, params);
    if (values.json) writeJson(io, run);
    else
      writeLine(
        io.stdout,
        `run ${run.id} ${run.state} (follow with: keyhold runs; curl --unix-socket ${socket} http://localhost/v1/runs/${run.id})`,
      );
    return EXIT_OK;
  }
  let run: RunRecord;
  try {
    run = await followRun({ socket }, job, params, (event) => {
      if (event.event === "output") (event.stream === "stderr" ? io.stderr : io.stdout).write(event.data);
    });
  } catch (err) {
    if (!isSecretError(err, "STREAM_CUT")) throw err;
    writeLine(io.stderr, `keyhold: ${err.message} [${err.code}]`);
    if (err.hint) writeLine(io.stderr, `keyhold: hint: ${err.hint}`);
    return EXIT_STREAM_CUT;
  }
  if (values.json) writeJson(io, run);
  if (run.error)
    writeLine(io.stderr, `keyhold: run ${run.id} ${run.state}: ${run.error.message} [${run.error.code}]`);
  else if (run.state !== "succeeded")
    writeLine(io.stderr, `keyhold: run ${run.id} ${run.state}${run.signal ? ` (${run.signal})` : ""}`);
  return exitCodeOf(run);
};
