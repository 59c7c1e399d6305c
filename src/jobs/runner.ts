import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, writeSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { createCredentialsDirectory, type CredentialsDirectory } from "../load/index.js";
import type { Secret } from "../secret/index.js";
import type { JobServerConfig, JobSpec } from "./config.js";
import { substituteArgv } from "./config.js";
import { openRunLog } from "./logs.js";
import type { RunErrorCode, RunRecord } from "./records.js";
import { type ScrubPattern, StreamScrubber } from "./scrubber.js";

/**
 * Runs one job: checks its code policy, gives it a private credential directory holding only
 * its own credentials, a clean environment and a process group of its own, streams its output
 * through the scrubber to the log file and the listeners, enforces the timeout (SIGTERM to the
 * whole group, then SIGKILL) and reports how it ended. It never touches the run record file:
 * the caller owns the record and persists each change.
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

const GIT_ENV = {
  PATH: "/usr/local/bin:/usr/bin:/bin",
  LANG: "C.UTF-8",
  HOME: "/nonexistent",
  GIT_CONFIG_NOSYSTEM: "1",
};

function git(cwd: string, args: string[]): Promise<string> {
  // The work tree belongs to the developers, not to the server: safe.directory lets git read it,
  // and core.fsmonitor/hooksPath are forced off so the repository's own config cannot make the
  // server run a program of the developers' choosing while it checks the tree.
  const full = [
    "-c",
    `safe.directory=${cwd}`,
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.untrackedCache=false",
    "-C",
    cwd,
    ...args,
  ];
  return new Promise((resolve, reject) => {
    execFile("git", full, { env: GIT_ENV, timeout: 30_000, maxBuffer: 1024 * 1024 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout);
    });
  });
}

/** The commit the job will run from, or why it may not run (policy `committed`). */
async function committedRevision(cwd: string): Promise<{ revision: string } | { problem: string }> {
  let status: string;
  let revision: string;
  try {
    status = await git(cwd, ["status", "--porcelain", "--untracked-files=all", "--ignore-submodules=none"]);
    revision = (await git(cwd, ["rev-parse", "--verify", "HEAD^{commit}"])).trim();
  } catch {
    return { problem: `${cwd} is not a git work tree with a commit` };
  }
  if (status.trim() !== "") {
    const changed = status.split("\n").filter((l) => l.trim() !== "").length;
    return {
      problem: `the work tree has ${changed} uncommitted or untracked change${changed === 1 ? "" : "s"}`,
    };
  }
  if (!/^[0-9a-f]{40,64}$/.test(revision)) return { problem: "cannot read the HEAD commit" };
  return { revision };
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

  handle.done = (async (): Promise<RunOutcome> => {
    const outcome: RunOutcome = {
      exitCode: null,
      signal: null,
      revision: null,
      error: null,
      stoppedBy: null,
      log: null,
    };
    if (ctx.job.codePolicy === "committed") {
      const check = await committedRevision(ctx.job.cwd);
      if ("problem" in check) {
        outcome.error = { code: "CODE_NOT_COMMITTED", message: check.problem };
        return outcome;
      }
      outcome.revision = check.revision;
    }
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

    // A job that may receive no credential gets no directory (and no CREDENTIALS_DIRECTORY).
    let credentials: CredentialsDirectory | undefined;
    try {
      if (ctx.credentials.size > 0)
        credentials = createCredentialsDirectory(
          [...ctx.credentials].map(([name, value]) => ({ name, value })),
          ctx.credentialsParent === undefined ? {} : { parent: ctx.credentialsParent, ramfs: false },
        );
    } catch (err) {
      closeSync(log.fd);
      const code = err instanceof Error && "code" in err ? String((err as { code: unknown }).code) : "error";
      outcome.error = {
        code: "CREDENTIAL_UNAVAILABLE",
        message: `cannot create the run's credential directory: ${code}`,
      };
      return outcome;
    }

    try {
      return await new Promise<RunOutcome>((resolve) => {
        const env: NodeJS.ProcessEnv = {
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
        const [command, ...args] = argv as [string, ...string[]];
        // detached: the job leads a new session and process group, so a timeout or cancel can
        // signal everything it started with one kill(-pgid).
        const proc = spawn(command, args, {
          cwd: ctx.job.cwd,
          env,
          detached: true,
          stdio: ["ignore", "pipe", "pipe"],
        });
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
          resolve(outcome);
        };

        proc.on("error", (err: NodeJS.ErrnoException) => {
          if (exited) return;
          exited = true;
          outcome.error = {
            code: "SPAWN_FAILED",
            message: `cannot start ${command}: ${err.code ?? "error"}`,
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
          // Whatever the job left behind in its group (background children) ends with it: they
          // could otherwise outlive the run and its credential directory.
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
      credentials?.remove();
      try {
        closeSync(log.fd);
      } catch {
        // already closed
      }
    }
  })();
  return handle;
}
