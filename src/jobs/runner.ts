import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, rmSync, writeSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { createCredentialsDirectory, type CredentialsDirectory, privateRunLocation } from "../load/index.js";
import type { Secret } from "../secret/index.js";
import type { JobServerConfig, JobSpec } from "./config.js";
import { substituteArgv } from "./config.js";
import { LogProblem, openDirectory, openRunLog } from "./logs.js";
import type { RunErrorCode, RunRecord } from "./records.js";
import {
  keptDirectories,
  parseSandboxReport,
  SCRATCH_DIRECTORIES,
  SandboxError,
  type SandboxPlan,
  sandboxCommand,
} from "./sandbox.js";
import type { ScrubPattern } from "./scrub-forms.js";
import { StreamScrubber } from "./scrubber.js";
import { makeMountPoint, type Snapshot, SnapshotError, takeSnapshot } from "./snapshot.js";

/**
 * Runs one job: copies the commit it runs from (code policy `committed`, snapshot.ts), gives it a
 * private credential directory holding only its own credentials, a clean environment and
 * namespaces of its own (sandbox.ts) in which none of the server's paths, keys or processes are
 * visible, streams its output through the scrubber to the log file and the listeners, enforces
 * the timeout (SIGTERM to the whole group, then SIGKILL) and reports how it ended. It never
 * touches the run record file: the caller owns the record and persists each change.
 */

export type OutputStream = "stdout" | "stderr";

export interface RunContext {
  job: JobSpec;
  record: RunRecord;
  params: ReadonlyMap<string, string>;
  /** The job's own credentials, by name. */
  credentials: ReadonlyMap<string, Secret>;
  /** Every credential the server holds: output is scrubbed of all of them, not only the job's. */
  patterns: readonly ScrubPattern[];
  environment: JobServerConfig["environment"];
  killGraceSeconds: number;
  /** Where per-run credential directories are made (a memory file system). */
  credentialsParent: string | undefined;
  /** The server's state directory: run records, the audit log, commit snapshots. */
  stateDir: string;
  /** The server's other private paths (its credentials, runtime directory, audit log): jobs never see them. */
  hide: readonly string[];
  onStart(pid: number): void;
  onOutput(stream: OutputStream, text: string): void;
}

export interface RunOutcome {
  exitCode: number | null;
  signal: string | null;
  revision: string | null;
  error: { code: RunErrorCode; message: string } | null;
  /** How the run ended, for the state: a timeout or cancel overrides the exit status. */
  stoppedBy: "timeout" | "cancel" | "shutdown" | null;
  log: string | null;
}

export interface RunHandle {
  /** Ends the run: SIGTERM to its process group, SIGKILL after the grace period. */
  stop(reason: "cancel" | "shutdown", graceSeconds?: number): void;
  done: Promise<RunOutcome>;
}

/** Where commit snapshots are made: inside the state directory, which no job sees. */
export function snapshotsDirectory(stateDir: string): string {
  return join(stateDir, "snapshots");
}

/** Removes snapshots a killed server left behind (at start, before any run). */
export function clearSnapshots(stateDir: string): void {
  rmSync(snapshotsDirectory(stateDir), { recursive: true, force: true });
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** The commit snapshot of a `committed` job, with the outputs directory ready to be bound inside it. */
async function snapshotFor(
  job: JobSpec,
  stateDir: string,
  id: string,
): Promise<{ snapshot: Snapshot; work: string }> {
  const parent = snapshotsDirectory(stateDir);
  // On the thread pool, like the copy itself: the state directory is on a disk.
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const work = join(parent, id);
  await mkdir(work, { mode: 0o700 });
  try {
    const snapshot = await takeSnapshot(job.cwd, work);
    if (isUnder(snapshot.root, job.outputDir))
      throw new SnapshotError(
        "SNAPSHOT_FAILED",
        `the outputs directory ${job.outputDir} holds the whole repository`,
      );
    if (isUnder(job.outputDir, snapshot.root)) makeMountPoint(snapshot, job.outputDir);
    return { snapshot, work };
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}

/** Descriptor numbers the run's init gets its kept directories at: after stdin, stdout, stderr and the report pipe. */
const FIRST_HELD_FD = 4;

/**
 * Opens each directory the run's init binds again (sandbox.ts, `keep`) the way logs.ts reaches
 * `logs/`: one name at a time, never through a symbolic link. The caller closes the descriptors.
 */
async function openKept(paths: readonly string[]): Promise<{ fds: number[] } | { problem: string }> {
  const fds: number[] = [];
  for (const path of paths) {
    try {
      fds.push(await openDirectory(path, false));
    } catch (err) {
      for (const fd of fds) closeSync(fd);
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      return { problem: err instanceof LogProblem ? err.message : `${path}: ${code}` };
    }
  }
  return { fds };
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

export function startRun(ctx: RunContext): RunHandle {
  let child: ChildProcess | undefined;
  let stoppedBy: RunOutcome["stoppedBy"] = null;
  let killTimer: NodeJS.Timeout | undefined;
  let pendingStop: { reason: "cancel" | "shutdown"; grace: number } | undefined;

  const stopChild = (grace: number) => {
    const pid = child?.pid;
    if (pid === undefined) return;
    killGroup(pid, "SIGTERM");
    clearTimeout(killTimer);
    killTimer = setTimeout(() => killGroup(pid, "SIGKILL"), grace * 1000);
    killTimer.unref();
  };

  const handle: RunHandle = {
    stop(reason, graceSeconds) {
      if (stoppedBy !== null) return;
      stoppedBy = reason;
      const grace = graceSeconds ?? ctx.killGraceSeconds;
      if (child) stopChild(grace);
      else pendingStop = { reason, grace };
    },
    done: Promise.resolve(undefined as unknown as RunOutcome),
  };

  const runInSandbox = async (snapshot: Snapshot | undefined): Promise<RunOutcome> => {
    const outcome: RunOutcome = { ...NO_OUTCOME, revision: snapshot?.revision ?? null };
    if (stoppedBy !== null) {
      outcome.stoppedBy = stoppedBy;
      return outcome;
    }

    const log = await openRunLog(ctx.job.outputDir, ctx.record.id);
    if ("problem" in log) {
      outcome.error = {
        code: "OUTPUT_FAILED",
        message: `cannot create the run log in ${ctx.job.outputDir}: ${log.problem}`,
      };
      return outcome;
    }
    outcome.log = log.path;

    // The run's private directory: its credentials (a job that may receive none gets no
    // directory and no CREDENTIALS_DIRECTORY) and the empty stage its namespace is laid out from.
    const place =
      ctx.credentialsParent === undefined
        ? privateRunLocation()
        : { parent: ctx.credentialsParent, prefix: "" };
    let runDir: string | undefined;
    let credentials: CredentialsDirectory | undefined;
    try {
      mkdirSync(place.parent, { recursive: true, mode: 0o700 });
      runDir = mkdtempSync(join(place.parent, `${place.prefix}run-`));
      mkdirSync(join(runDir, "stage"), { mode: 0o700 });
      if (ctx.credentials.size > 0)
        credentials = createCredentialsDirectory(
          [...ctx.credentials].map(([name, value]) => ({ name, value })),
          { parent: runDir, ...(ctx.credentialsParent === undefined ? {} : { ramfs: false }) },
        );
    } catch (err) {
      closeSync(log.fd);
      if (runDir !== undefined) rmSync(runDir, { recursive: true, force: true });
      const code = err instanceof Error && "code" in err ? String((err as { code: unknown }).code) : "error";
      outcome.error = {
        code: "CREDENTIAL_UNAVAILABLE",
        message: `cannot create the run's credential directory: ${code}`,
      };
      return outcome;
    }

    // The kept directories' descriptors, open until the run's init has its copies.
    let held: number[] = [];
    const closeHeld = () => {
      for (const fd of held) closeSync(fd);
      held = [];
    };
    try {
      const env: Record<string, string> = {
        PATH: ctx.environment.PATH,
        HOME: ctx.environment.HOME,
        LANG: ctx.environment.LANG,
        KEYHOLD_RUN_ID: ctx.record.id,
        KEYHOLD_JOB: ctx.job.name,
      };
      if (credentials) env.CREDENTIALS_DIRECTORY = credentials.path;
      for (const spec of ctx.job.params.values()) {
        const value = ctx.params.get(spec.name);
        if (spec.env !== undefined && value !== undefined) env[spec.env] = value;
      }
      const argv = substituteArgv(ctx.job, ctx.params);
      const command = argv[0] as string;
      const plan: Omit<SandboxPlan, "held"> = {
        stage: join(runDir, "stage"),
        hide: [...ctx.hide, ctx.stateDir, place.parent],
        provide: [
          ...(credentials ? [{ source: credentials.path, target: credentials.path, readOnly: false }] : []),
          ...(snapshot ? [{ source: snapshot.tree, target: snapshot.root, readOnly: true }] : []),
        ],
        // With a snapshot the cwd is inside it; without, the job works in the live directory.
        keep: snapshot ? [ctx.job.outputDir] : [ctx.job.cwd, ctx.job.outputDir],
        scratch: SCRATCH_DIRECTORIES,
        cwd: ctx.job.cwd,
      };
      let sandboxed: ReturnType<typeof sandboxCommand>;
      try {
        const kept = keptDirectories(plan);
        const opened = await openKept(kept);
        if ("problem" in opened) {
          outcome.error = { code: "ISOLATION_FAILED", message: `cannot isolate the run: ${opened.problem}` };
          return outcome;
        }
        held = opened.fds;
        const numbers = Object.fromEntries(kept.map((path, i) => [path, FIRST_HELD_FD + i]));
        sandboxed = sandboxCommand({ ...plan, held: numbers }, argv, env, {
          uid: process.getuid?.() ?? 0,
          gid: process.getgid?.() ?? 0,
        });
      } catch (err) {
        if (!(err instanceof SandboxError)) throw err;
        outcome.error = { code: "ISOLATION_FAILED", message: `cannot isolate the run: ${err.message}` };
        return outcome;
      }
      return await new Promise<RunOutcome>((resolve) => {
        // detached: the run leads a new session and process group, so a timeout or cancel can
        // signal everything it started with one kill(-pgid). fd 3 carries the job's exact
        // outcome from the run's init, the kept directories follow; the job inherits none of them.
        const proc = spawn(sandboxed.command, sandboxed.args, {
          cwd: "/",
          env: sandboxed.env,
          detached: true,
          stdio: ["ignore", "pipe", "pipe", "pipe", ...held],
        });
        closeHeld();
        let report = "";
        const reportPipe = proc.stdio[3] as NodeJS.ReadableStream | null;
        reportPipe?.on("data", (chunk: Buffer) => {
          if (report.length < 4096) report += chunk.toString("utf8");
        });
        reportPipe?.on("error", () => undefined);
        child = proc;
        let timeout: NodeJS.Timeout | undefined;
        let exited = false;
        let settled = false;
        const writeLog = (bytes: Buffer) => {
          if (bytes.length === 0) return;
          try {
            writeSync(log.fd, bytes);
          } catch {
            // a full disk must not stop the run; the stream still reaches the client
          }
        };
        const pipes: {
          stream: OutputStream;
          scrubber: StreamScrubber;
          decoder: StringDecoder;
          open: boolean;
        }[] = [];
        const forward = (p: (typeof pipes)[number], bytes: Buffer) => {
          writeLog(bytes);
          const textOut = p.decoder.write(bytes);
          if (textOut.length > 0) ctx.onOutput(p.stream, textOut);
        };
        const attach = (stream: OutputStream, readable: NodeJS.ReadableStream | null) => {
          if (!readable) return;
          const p = {
            stream,
            scrubber: new StreamScrubber(ctx.patterns),
            decoder: new StringDecoder("utf8"),
            open: true,
          };
          pipes.push(p);
          readable.on("data", (chunk: Buffer) => forward(p, p.scrubber.push(chunk)));
          readable.on("end", () => {
            if (!p.open) return;
            p.open = false;
            forward(p, p.scrubber.end());
            const rest = p.decoder.end();
            if (rest.length > 0) ctx.onOutput(p.stream, rest);
          });
          readable.on("error", () => undefined);
        };
        attach("stdout", proc.stdout);
        attach("stderr", proc.stderr);

        const finish = () => {
          if (settled) return;
          settled = true;
          clearTimeout(timeout);
          clearTimeout(killTimer);
          for (const p of pipes) {
            if (p.open) {
              p.open = false;
              forward(p, p.scrubber.end());
            }
          }
          outcome.stoppedBy = stoppedBy;
          if (outcome.error === null) settleFromReport();
          resolve(outcome);
        };
        // The init's report is the job's own wait status; without one (the group was killed, or
        // the namespaces could not be made) the outer process's status is all there is.
        const settleFromReport = () => {
          const r = parseSandboxReport(report);
          if (r?.kind === "exit") {
            outcome.exitCode = r.code;
            outcome.signal = null;
          } else if (r?.kind === "signal") {
            outcome.exitCode = null;
            outcome.signal = r.signal;
          } else if (r?.kind === "exec") {
            outcome.error = { code: "SPAWN_FAILED", message: `cannot start ${command}: ${r.errno}` };
          } else if (r?.kind === "cwd") {
            outcome.error = { code: "SPAWN_FAILED", message: `cannot enter ${ctx.job.cwd}: ${r.errno}` };
          } else if (r?.kind === "setup") {
            outcome.error = {
              code: "ISOLATION_FAILED",
              message: `cannot isolate the run: ${r.what}: ${r.errno}`,
            };
          } else if (outcome.signal === null && stoppedBy === null) {
            outcome.error = {
              code: "ISOLATION_FAILED",
              message: `cannot isolate the run: ${sandboxed.command} exited ${outcome.exitCode ?? "-"}`,
            };
          }
        };

        proc.on("error", (err: NodeJS.ErrnoException) => {
          if (exited) return;
          exited = true;
          outcome.error = {
            code: "ISOLATION_FAILED",
            message: `cannot start ${sandboxed.command}: ${err.code ?? "error"}`,
          };
          finish();
        });
        proc.on("spawn", () => {
          ctx.onStart(proc.pid as number);
          timeout = setTimeout(() => {
            if (stoppedBy !== null) return;
            stoppedBy = "timeout";
            stopChild(ctx.killGraceSeconds);
          }, ctx.job.timeoutSeconds * 1000);
          if (pendingStop) stopChild(pendingStop.grace);
        });
        proc.on("exit", (code, signal) => {
          exited = true;
          outcome.exitCode = code;
          outcome.signal = signal;
          // The kernel ended the run's PID namespace with its init; the group goes too.
          if (proc.pid !== undefined) killGroup(proc.pid, "SIGKILL");
          // A process outside the group may still hold the pipes open: do not wait for it forever.
          const lingering = setTimeout(() => {
            proc.stdout?.destroy();
            proc.stderr?.destroy();
            finish();
          }, 2000);
          lingering.unref();
        });
        proc.on("close", () => {
          if (exited) finish();
        });
      });
    } finally {
      closeHeld();
      credentials?.remove();
      rmSync(runDir, { recursive: true, force: true });
      try {
        closeSync(log.fd);
      } catch {
        // already closed
      }
    }
  };

  handle.done = (async (): Promise<RunOutcome> => {
    let snapshot: { snapshot: Snapshot; work: string } | undefined;
    if (ctx.job.codePolicy === "committed") {
      try {
        snapshot = await snapshotFor(ctx.job, ctx.stateDir, ctx.record.id);
      } catch (err) {
        if (!(err instanceof SnapshotError)) throw err;
        return { ...NO_OUTCOME, error: { code: err.code, message: err.message } };
      }
    }
    try {
      return await runInSandbox(snapshot?.snapshot);
    } finally {
      if (snapshot) await rm(snapshot.work, { recursive: true, force: true });
    }
  })();
  return handle;
}

const NO_OUTCOME: RunOutcome = {
  exitCode: null,
  signal: null,
  revision: null,
  error: null,
  stoppedBy: null,
  log: null,
};
