import { serveJobsUntilStopped } from "../app/jobserver.js";
import { defineCommand, type OptionTable, type RunContext, SOCKET_OPTION } from "./command.js";
import { EXIT_OK, writeLine } from "./io.js";

const OPTIONS = {
  config: {
    type: "string",
    arg: "FILE",
    complete: "file",
    description: "the job configuration (default $KEYHOLD_JOBS_CONFIG or /etc/keyhold/jobs.json)",
  },
  socket: SOCKET_OPTION,
  state: {
    type: "string",
    arg: "DIR",
    complete: "directory",
    description: "where runs are recorded (default $STATE_DIRECTORY or /var/lib/keyhold-jobs)",
  },
  "audit-log": {
    type: "string",
    arg: "FILE",
    complete: "file",
    description: "the server's audit log (default audit.log in the state directory)",
  },
} as const satisfies OptionTable;

export const serve = defineCommand({
  name: "serve",
  synopsis: "serve [--config FILE] [--socket PATH] [--state DIR] [--audit-log FILE]",
  help: "The job server. Normally started by its socket unit (keyhold unit --mode jobserver);\nSIGHUP reloads the configuration and the credentials, SIGTERM stops it.",
  store: false,
  options: OPTIONS,
  positionals: 0,
  run: serveCommand,
});

/** `keyhold serve`: the job server, normally started by its socket unit. Returns when stopped. */
async function serveCommand({ values, io }: RunContext<typeof OPTIONS>): Promise<number> {
  await serveJobsUntilStopped({
    config: values.config,
    socket: values.socket,
    state: values.state,
    auditLog: values["audit-log"],
    env: io.env,
    log: (line) => writeLine(io.stderr, `keyhold serve: ${line}`),
  });
  return EXIT_OK;
}
