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
  type JobServerConfig,
  type ListenTarget,
  loadJobServerConfig,
} from "../jobs/index.js";
import { clearSecretCache, loadSecret } from "../load/index.js";
import { isSecretError, type Secret } from "../secret/index.js";

/*
 * The job server's start-up as `keyhold serve` does it: where its configuration, socket, state and
 * audit log are (options, then the environment systemd gives its unit, then the defaults), the
 * credentials it hands to jobs, its own audit key and log, the paths no job may see, and the
 * reload SIGHUP asks for. src/jobs/ is the server itself; this is how a host runs it.
 */

const DEFAULT_JOBS_STATE = "/var/lib/keyhold-jobs";

export interface JobServerStartOptions {
  /** The job configuration (default $KEYHOLD_JOBS_CONFIG, else /etc/keyhold/jobs.json). */
  config?: string;
  /** The socket to listen on when systemd passed none (default $KEYHOLD_JOBS_SOCKET, else the default). */
  socket?: string;
  /** Where runs are recorded (default the configuration's, $STATE_DIRECTORY, $KEYHOLD_STATE/jobs). */
  state?: string;
  /** The server's audit log (default audit.log in the state directory). */
  auditLog?: string;
  /** The server process's environment; socket activation's variables are taken out of it. */
  env: NodeJS.ProcessEnv;
  /** Where the server says what it does and what went wrong. */
  log: (line: string) => void;
}

/** A started job server. */
export interface RunningJobServer {
  server: JobServer;
  /**
   * SIGHUP: the configuration and the credentials again. An unreadable configuration keeps the old
   * one; a failure is logged, never thrown.
   */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

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
  env: NodeJS.ProcessEnv,
  log: (l: string) => void,
): Promise<{ sink: AuditSink; key: Buffer } | undefined> {
  try {
    const key = await loadAuditKey(stateDir, { env });
    const logPath = path ?? join(stateDir, AUDIT_LOG_FILE);
    const anchor = { path: join(dirname(logPath), AUDIT_ANCHOR_FILE), expected: true };
    const sink = await AuditLog.open({ path: logPath, key, anchor, env });
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

/**
 * Starts the job server: on the socket systemd passed (socket activation), else on its path. A
 * configuration that does not load is thrown before anything listens; a missing audit key is
 * logged, and runs go unaudited.
 */
export async function startJobServer(options: JobServerStartOptions): Promise<RunningJobServer> {
  const { env, log } = options;
  const configPath = options.config ?? env.KEYHOLD_JOBS_CONFIG ?? DEFAULT_CONFIG;
  const config = loadJobServerConfig(configPath);
  const stateDir =
    options.state ??
    config.stateDir ??
    env.STATE_DIRECTORY?.split(":")[0] ??
    (env.KEYHOLD_STATE ? join(env.KEYHOLD_STATE, "jobs") : DEFAULT_JOBS_STATE);
  const target: ListenTarget = activationTarget(env) ?? {
    path: options.socket ?? env.KEYHOLD_JOBS_SOCKET ?? DEFAULT_SOCKET,
  };
  const audit = await openAudit(stateDir, options.auditLog, env, log);
  const runtime = env.RUNTIME_DIRECTORY?.split(":")[0];
  const server = new JobServer({
    config,
    stateDir,
    loadCredentials: (names) => loadCredentials(names, env),
    ...(runtime ? { credentialsParent: join(runtime, "runs") } : {}),
    hide: privatePaths(env, options.auditLog),
    ...(audit ? { audit: audit.sink, serverSecrets: new Map([[AUDIT_KEY_NAME, audit.key]]) } : {}),
    log,
  });
  await server.start(target);
  return {
    server,
    async reload() {
      let next: JobServerConfig | undefined;
      try {
        next = loadJobServerConfig(configPath);
      } catch (err) {
        log(
          `reload: keeping the old configuration: ${isSecretError(err) ? `${err.message} [${err.code}]` : "unreadable"}`,
        );
      }
      clearSecretCache();
      await server
        .reload(next)
        .catch((err: unknown) => log(`reload failed: ${err instanceof Error ? err.message : "unknown"}`));
    },
    stop: () => server.stop(),
  };
}

/**
 * Starts the job server and serves until SIGTERM or SIGINT stops it (a failure to stop is not
 * this caller's concern: the process is ending); SIGHUP reloads. The handlers are removed on stop.
 */
export async function serveJobsUntilStopped(options: JobServerStartOptions): Promise<void> {
  const running = await startJobServer(options);
  await new Promise<void>((resolve) => {
    const onHangup = () => void running.reload();
    const onStop = () => {
      process.off("SIGHUP", onHangup);
      process.off("SIGTERM", onStop);
      process.off("SIGINT", onStop);
      running.stop().then(resolve, () => resolve());
    };
    process.on("SIGHUP", onHangup);
    process.on("SIGTERM", onStop);
    process.on("SIGINT", onStop);
  });
}
