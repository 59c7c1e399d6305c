import { dirname, join, normalize, resolve } from "node:path";
import {
  AUDIT_ANCHOR_FILE,
  AUDIT_KEY_NAME,
  AUDIT_LOG_FILE,
  AuditLog,
  type AuditSink,
  loadAuditKey,
} from "../audit/index.js";
import {
  type CredentialSet,
  DEFAULT_CONFIG,
  DEFAULT_SOCKET,
  JobServer,
  type ListenTarget,
  loadJobServerConfig,
} from "../jobs/index.js";
import { clearSecretCache, loadSecret } from "../load/index.js";
import { isSecretError, type Secret } from "../secret/index.js";
import { defineCommand, type OptionTable, type RunContext, SOCKET_OPTION } from "./command.js";
import { type CliIo, EXIT_OK, writeLine } from "./io.js";
const DEFAULT_JOBS_STATE = "/var/lib/keyhold-jobs";

/** systemd socket activation: fd 3 when LISTEN_PID is this process and LISTEN_FDS ≥ 1. */
function activationTarget(env: NodeJS.ProcessEnv): ListenTarget | undefined {
  if (env.LISTEN_PID !== String(process.pid)) return undefined;
  const count = Number.parseInt(env.LISTEN_FDS ?? "0", 10);
  if (!(count >= 1)) return undefined;
  // Not inherited by anything this process starts (jobs get a clean environment anyway).
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  return { fd: 3 };
}

async function loadCredentials(names: readonly string[], env: NodeJS.ProcessEnv): Promise<CredentialSet> {
  const values = new Map<string, Secret>();
  const missing = new Map<string, string>();
  for (const name of names) {
    try {
      // cache: false, so SIGHUP really re-reads $CREDENTIALS_DIRECTORY.
      // The server hands on the bytes as stored: the newline rule was applied when they were stored.
      values.set(name, await loadSecret(name, { env, cache: false, keepNewline: true }));
    } catch (err) {
      missing.set(name, isSecretError(err) ? err.code : "IO_ERROR");
    }
  }
  return { values, missing };
}

/**
 * The job server's own audit log and key: under its unit the key is the credential
 * keyhold.audit-key, which `keyhold unit --mode jobserver --install` made for this server alone
 * (never the host's key: a job that got hold of it could rewrite root's log too), together with
 * the log's anchor in the server's state directory. The anchor sits beside the log, named after
 * the key; it is always expected, so a log, head and anchor deleted together are found, never
 * taken for a first start (docs/audit-format.md, "The anchor").
 */
async function openAudit(
  stateDir: string,
  path: string | undefined,
  io: CliIo,
  log: (l: string) => void,
): Promise<{ sink: AuditSink; key: Buffer } | undefined> {
  try {
    const key = await loadAuditKey(stateDir, { env: io.env });
    const logPath = path ?? join(stateDir, AUDIT_LOG_FILE);
    const anchor = { path: join(dirname(logPath), AUDIT_ANCHOR_FILE), expected: true };
    const sink = await AuditLog.open({ path: logPath, key, anchor, env: io.env });
    // Said at start, not only at the first run: a deleted log refuses every append.
    await sink.ensureWritable().catch((err: unknown) => {
      if (!isSecretError(err)) throw err;
      log(`job runs cannot be audited: ${err.message} [${err.code}]`);
    });
    return { sink, key: Buffer.from(key.exposeBytes()) };
  } catch (err) {
    log(`job runs are not audited: ${isSecretError(err) ? `${err.message} [${err.code}]` : "no audit key"}`);
    return undefined;
  }
}

/**
 * The server's own paths no job may see (src/jobs/sandbox.ts): every credential systemd gave it,
 * its runtime and state directories, an audit log kept elsewhere. The runner adds the state
 * directory in use and the parent of the per-run directories.
 */
function privatePaths(env: NodeJS.ProcessEnv, auditLog: string | undefined): string[] {
  const list = (v: string | undefined) => (v ?? "").split(":").filter((p) => p.startsWith("/"));
  return [
    "/run/credentials",
    ...list(env.CREDENTIALS_DIRECTORY),
    ...list(env.RUNTIME_DIRECTORY),
    ...list(env.STATE_DIRECTORY),
    ...(auditLog ? [resolve(auditLog)] : []),
  ].map((p) => normalize(p).replace(/(.)\/$/, "$1"));
}

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
  const configPath = values.config ?? io.env.KEYHOLD_JOBS_CONFIG ?? DEFAULT_CONFIG;
  const config = loadJobServerConfig(configPath);
  const stateDir =
    values.state ??
    config.stateDir ??
    io.env.STATE_DIRECTORY?.split(":")[0] ??
    (io.env.KEYHOLD_STATE ? join(io.env.KEYHOLD_STATE, "jobs") : DEFAULT_JOBS_STATE);
  const log = (line: string) => writeLine(io.stderr, `keyhold serve: ${line}`);
  const target: ListenTarget = activationTarget(io.env) ?? {
    path: values.socket ?? io.env.KEYHOLD_JOBS_SOCKET ?? DEFAULT_SOCKET,
  };
  const audit = await openAudit(stateDir, values["audit-log"], io, log);
  const runtime = io.env.RUNTIME_DIRECTORY?.split(":")[0];
  const server = new JobServer({
    config,
    stateDir,
    loadCredentials: (names) => loadCredentials(names, io.env),
    ...(runtime ? { credentialsParent: join(runtime, "runs") } : {}),
    hide: privatePaths(io.env, values["audit-log"]),
    ...(audit ? { audit: audit.sink, serverSecrets: new Map([[AUDIT_KEY_NAME, audit.key]]) } : {}),
    log,
  });
  await server.start(target);

  return await new Promise<number>((resolve) => {
    const onHangup = () => {
      let next: ReturnType<typeof loadJobServerConfig> | undefined;
      try {
        next = loadJobServerConfig(configPath);
      } catch (err) {
        log(
          `reload: keeping the old configuration: ${isSecretError(err) ? `${err.message} [${err.code}]` : "unreadable"}`,
        );
      }
      clearSecretCache();
      server
        .reload(next)
        .catch((err: unknown) => log(`reload failed: ${err instanceof Error ? err.message : "unknown"}`));
    };
    const onStop = () => {
      process.off("SIGHUP", onHangup);
      process.off("SIGTERM", onStop);
      process.off("SIGINT", onStop);
      server.stop().then(
        () => resolve(EXIT_OK),
        () => resolve(EXIT_OK),
      );
    };
    process.on("SIGHUP", onHangup);
    process.on("SIGTERM", onStop);
    process.on("SIGINT", onStop);
  });
}
