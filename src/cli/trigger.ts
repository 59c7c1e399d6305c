// The client half of src/jobs only (not its index): `keyhold trigger` then loads a few KiB
// instead of the whole server, which is measurable in its start-up time.
import { exitCodeOf, followRun, triggerRun } from "../jobs/client.js";
import { DEFAULT_SOCKET } from "../jobs/protocol.js";
import { defineCommand, type OptionTable, type RunContext, SOCKET_OPTION } from "./command.js";
import { EXIT_OK, usageError, writeJson, writeLine } from "./io.js";

/**
 * `keyhold trigger --follow` when the stream ended before the run did (STREAM_CUT): the run goes
 * on, and how it ends is not known here. A job may exit 4 itself; stderr says which it was.
 */
export const EXIT_STREAM_CUT = 4;

const OPTIONS = {
  param: {
    type: "string",
    arg: "NAME=VALUE",
    multiple: true,
    description: "a parameter the job declares (repeatable)",
  },
  follow: {
    type: "boolean",
    short: "f",
    description: "stream the run's output and exit with the job's code (4: the stream was cut)",
  },
  json: { type: "boolean", description: "print the run record as JSON" },
  socket: SOCKET_OPTION,
} as const satisfies OptionTable;

export const trigger = defineCommand({
  name: "trigger",
  synopsis: "trigger JOB [--param NAME=VALUE]… [--follow] [--json] [--socket PATH]",
  help: "Asks the job server to run JOB; with --follow, streams it and exits with the job's code.",
  store: false,
  options: OPTIONS,
  positionals: 1,
  // The run goes on; how it ends is not known here. A job may exit 4 itself; stderr says which it was.
  exitCodes: { STREAM_CUT: EXIT_STREAM_CUT },
  run: triggerCommand,
});

/** `keyhold trigger`: ask the job server to run a job; with --follow, stream it and exit with its code. */
async function triggerCommand({ values, positionals, io }: RunContext<typeof OPTIONS>): Promise<number> {
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
  const run = await followRun({ socket }, job, params, (event) => {
    if (event.event === "output") (event.stream === "stderr" ? io.stderr : io.stdout).write(event.data);
  });
  if (values.json) writeJson(io, run);
  if (run.error)
    writeLine(io.stderr, `keyhold: run ${run.id} ${run.state}: ${run.error.message} [${run.error.code}]`);
  else if (run.state !== "succeeded")
    writeLine(io.stderr, `keyhold: run ${run.id} ${run.state}${run.signal ? ` (${run.signal})` : ""}`);
  return exitCodeOf(run);
}
