import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

/**
 * A real `keyhold serve` process on a temporary socket, for the job server tests. The server is
 * the compiled CLI (dist/src/cli/main.js) started the way a person would start it by hand.
 */

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const CLI_MAIN = join(PROJECT_ROOT, "dist/src/cli/main.js");
const RUN_CLI = `const { main } = await import(${JSON.stringify(CLI_MAIN)});
process.exitCode = await main(process.argv.slice(1), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });`;

/** argv for running the keyhold CLI from the compiled tree. */
export function cliArgv(args: string[]): string[] {
  return ["--input-type=module", "-e", RUN_CLI, ...args];
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

export function call(
  socket: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolvePromise, reject) => {
    // A connection of its own each time (as curl does): the server may close an idle one.
    const req = request({ socketPath: socket, method, path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => {
        const text = Buffer.concat(parts).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

export function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      "curl",
      ["-sS", ...args],
      { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === "number"
            ? (err as { code: number }).code
            : 1
          : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

export interface CliProcess {
  child: ChildProcess;
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Starts the keyhold CLI; `done` resolves with its exit code and everything it printed. */
export function startCli(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const child = spawn(process.execPath, cliArgv(args), { env, stdio: ["ignore", "pipe", "pipe"] });
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolvePromise) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (c: Buffer) => out.push(c));
    child.stderr?.on("data", (c: Buffer) => err.push(c));
    child.on("close", (code) =>
      resolvePromise({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }),
    );
  });
  return { child, done };
}

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return startCli(args, env).done;
}

/** The uid of "another local user" in these tests: nobody, who owns nothing the server uses. */
export const OTHER_UID = 65534;

/** Runs a shell script as OTHER_UID (its own uid and gid, no supplementary groups). */
export function asOtherUser(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      "setpriv",
      [`--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, "--clear-groups", "/bin/sh", "-c", script],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === "number"
            ? (err as { code: number }).code
            : 1
          : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

export interface TestServer {
  root: string;
  socket: string;
  state: string;
  outputs: string;
  credentials: string;
  configPath: string;
  proc: ChildProcess;
  /** The server's own process id (under `under`, the child the wrapper started). */
  pid(): number;
  stderr(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
  /** Starts a new server process on the same socket, state and config. */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface ServerSetup {
  /** Credential files to put in the server's $CREDENTIALS_DIRECTORY. */
  credentials?: Record<string, string>;
  /** The config; `{out}` in strings is replaced by the outputs directory. */
  config: (paths: { root: string; outputs: string }) => unknown;
  /** More environment for the server (e.g. SYSTEMD_CREDENTIAL_SECRET for a scratch host key). */
  env?: Record<string, string>;
  /** Descriptors the server inherits after stdin, stdout and stderr (fd 3 on), as a shell started by hand may leave them. */
  inherit?: readonly ("ignore" | number)[];
  /** Runs before the first start, with the (not yet existing) state directory. */
  prepare?: (paths: { root: string; state: string }) => Promise<void>;
  /**
   * A command the server runs under (strace), given the server's own argv after it. The wrapper
   * must start the server as its only child and exit when it does; signals go to the server.
   */
  under?: (paths: { root: string }) => readonly string[];
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export async function startServer(setup: ServerSetup): Promise<TestServer> {
  // On a memory file system where there is one: the test stands in for systemd and writes the
  // server's credential files (canaries) itself, and they should not reach a disk either.
  const root = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "keyhold-jobs-"));
  chmodSync(root, 0o755);
  const outputs = join(root, "outputs");
  const credentials = join(root, "credentials");
  const state = join(root, "state");
  mkdirSync(outputs);
  mkdirSync(credentials, { mode: 0o700 });
  for (const [name, value] of Object.entries(setup.credentials ?? {})) {
    writeFileSync(join(credentials, name), value, { mode: 0o400 });
  }
  const configPath = join(root, "jobs.json");
  writeFileSync(configPath, JSON.stringify(setup.config({ root, outputs }), null, 2), { mode: 0o644 });
  const socket = join(root, "jobs.sock");
  let stderr = "";
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    LANG: "C.UTF-8",
    CREDENTIALS_DIRECTORY: credentials,
    // A canary in the server's own environment must never reach a job.
    KEYHOLD_SERVER_ONLY: "server-environment-marker",
    ...(setup.env ?? {}),
  };
  const server: TestServer = {
    root,
    socket,
    state,
    outputs,
    credentials,
    configPath,
    proc: undefined as unknown as ChildProcess,
    pid() {
      const p = server.proc;
      if (setup.under === undefined) return p.pid as number;
      const children = readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, "utf8").trim().split(" ");
      if (children.length !== 1 || !/^[0-9]+$/.test(children[0] as string))
        throw new Error(`the wrapper has children ${JSON.stringify(children)}, not the server alone`);
      return Number(children[0]);
    },
    stderr: () => stderr,
    async stop() {
      const p = server.proc;
      if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
      const exited = new Promise<number | null>((r) => p.once("exit", (code) => r(code)));
      process.kill(server.pid(), "SIGTERM");
      return exited;
    },
    async kill9() {
      const p = server.proc;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise<void>((r) => p.once("exit", () => r()));
      // The server first: a wrapper (strace) exits with it, and SIGKILL to it would leave the server.
      if (setup.under !== undefined) {
        try {
          process.kill(server.pid(), "SIGKILL");
        } catch {
          // gone meanwhile, or not started yet: the wrapper itself is killed below
        }
      }
      p.kill("SIGKILL");
      await exited;
    },
    async restart() {
      const argv = [
        process.execPath,
        ...cliArgv(["serve", "--config", configPath, "--socket", socket, "--state", state]),
      ];
      const command = [...(setup.under?.({ root }) ?? []), ...argv];
      const p = spawn(command[0] as string, command.slice(1), {
        env,
        stdio: ["ignore", "ignore", "pipe", ...(setup.inherit ?? [])],
      });
      p.stderr?.on("data", (c: Buffer) => {
        stderr += c.toString("utf8");
      });
      server.proc = p;
      await waitFor("the server to answer", async () => {
        if (p.exitCode !== null) throw new Error(`server exited ${p.exitCode}: ${stderr}`);
        try {
          const r = await call(socket, "GET", "/v1/health");
          return r.status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      });
    },
    async cleanup() {
      await server.kill9();
      rmSync(root, { recursive: true, force: true });
    },
  };
  await setup.prepare?.({ root, state });
  await server.restart();
  return server;
}

/** Every file under `dir`, recursively, as one string (to search for a leaked value). */
export function everythingUnder(dir: string): string {
  let all = "";
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const parent =
      (entry as unknown as { parentPath?: string; path?: string }).parentPath ??
      (entry as unknown as { path: string }).path;
    all += readFileSync(join(parent, entry.name), "latin1");
  }
  return all;
}

/** POST with ?follow=1 and collect every NDJSON event. */
export async function follow(
  socket: string,
  job: string,
  params: Record<string, string> = {},
): Promise<{ events: Record<string, unknown>[]; raw: string; status: number }> {
  const reply = await call(socket, "POST", `/v1/jobs/${job}/runs?follow=1`, JSON.stringify({ params }), {
    "Content-Type": "application/json",
  });
  const events =
    reply.status === 200
      ? reply.text
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => JSON.parse(l) as Record<string, unknown>)
      : [];
  return { events, raw: reply.text, status: reply.status };
}

export function finalRun(events: Record<string, unknown>[]): Record<string, unknown> {
  const last = events[events.length - 1];
  if (last?.event !== "finished") throw new Error("stream did not end with a finished event");
  return (last as { run: Record<string, unknown> }).run;
}

export function outputOf(events: Record<string, unknown>[], stream?: "stdout" | "stderr"): string {
  return events
    .filter((e) => e.event === "output" && (stream === undefined || e.stream === stream))
    .map((e) => e.data as string)
    .join("");
}

/**
 * PIDs (in this test's PID namespace) of the processes one of whose arguments is exactly `arg`:
 * a job's processes live in a PID namespace of their own, so a PID they print means nothing here.
 */
export function processesWithArgument(arg: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "latin1").split("\0").includes(arg))
        pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * A job that tries to reach what belongs to the server (its credentials, its state and audit log,
 * other runs' credentials, its processes) and prints "LEAK <what>" for anything it could, "denied
 * <what>" otherwise: SERVER_CREDS, SERVER_STATE and SERVER_PID name the targets.
 */
export const SNOOP_SCRIPT = `#!/bin/sh
try() { what=$1; shift; if "$@" >/dev/null 2>&1; then echo "LEAK $what"; else echo "denied $what"; fi; }
try server-credentials sh -c 'cat "$SERVER_CREDS"/* | grep -q .'
try server-credentials-list sh -c 'ls "$SERVER_CREDS" | grep -q .'
try run-credentials sh -c 'cat /run/credentials/*/* | grep -q .'
try other-runs sh -c 'runs=$(dirname "$(dirname "$CREDENTIALS_DIRECTORY")"); test "$(ls -d "$runs"/*/* | wc -l)" -gt 1'
try state-read sh -c 'cat "$SERVER_STATE"/audit.log | grep -q .'
try state-records sh -c 'ls "$SERVER_STATE"/runs | grep -q .'
try state-write sh -c 'echo forged >> "$SERVER_STATE"/audit.log'
try state-create sh -c 'echo x > "$SERVER_STATE"/planted'
try unmount sh -c 'umount "$SERVER_CREDS" && ls "$SERVER_CREDS" | grep -q .'
try unmount-nested unshare -Urm sh -c 'umount -l "$SERVER_CREDS" && ls "$SERVER_CREDS" | grep -q .'
try new-proc unshare -Urm sh -c 'mount -t proc proc /mnt && ls /mnt | grep -qx "$SERVER_PID"'
try server-proc test -e /proc/$SERVER_PID
try server-environ sh -c 'cat /proc/$SERVER_PID/environ | grep -q .'
try server-mem sh -c 'head -c1 /proc/$SERVER_PID/mem'
try init-environ sh -c 'cat /proc/1/environ | grep -q .'
try init-mem sh -c 'head -c1 /proc/1/mem'
echo "own=$(cat "$CREDENTIALS_DIRECTORY"/* | sha256sum | cut -d' ' -f1)"
echo "pids=$(ls /proc | grep -c '^[0-9]')"
`;

/** How many things SNOOP_SCRIPT tries. */
export const SNOOP_TRIES = (SNOOP_SCRIPT.match(/^try /gm) ?? []).length;
