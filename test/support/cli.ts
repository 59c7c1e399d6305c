import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeScratch, type Scratch } from "./scratch.js";

/** The repository root, from dist/test/support/cli.js. */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** The real `keyhold` executable, run as its own process the way a user runs it. */
export const KEYHOLD_BIN = join(REPO_ROOT, "bin", "keyhold.js");

/** One line of a coded error: `keyhold: <message> [CODE]`. */
export const ERROR_LINE = /^keyhold: (.*) \[([A-Z][A-Z0-9_]*)\]$/;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
  stderrBytes: Buffer;
}

export interface CliOptions {
  env: NodeJS.ProcessEnv;
  /** Bytes for the CLI's stdin; stdin is closed either way. */
  input?: string | Buffer;
  /** Run through this command first (e.g. setpriv … to drop root). */
  prefix?: readonly string[];
  /** Kill the process (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
}

export interface StartedCli {
  child: ChildProcess;
  /** Everything printed, once the process exited and its output pipes closed. */
  result: Promise<CliResult>;
  /** The process's own exit, even while a process it left behind still holds its pipes. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `keyhold <args>` as a real process and collects what it prints. */
export function startCli(args: readonly string[], options: CliOptions): StartedCli {
  const prefix = options.prefix ?? [];
  const argv = [...prefix, process.execPath, KEYHOLD_BIN, ...args];
  const child = spawn(argv[0] as string, argv.slice(1), {
    env: options.env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on("data", (c: Buffer) => out.push(c));
  child.stderr?.on("data", (c: Buffer) => err.push(c));
  // The CLI may exit before reading its input (a usage error): EPIPE here is expected.
  child.stdin?.on("error", () => undefined);
  child.stdin?.end(options.input ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      const stderrBytes = Buffer.concat(err);
      resolve({
        code,
        signal,
        stdout: stdoutBytes.toString("utf8"),
        stderr: stderrBytes.toString("utf8"),
        stdoutBytes,
        stderrBytes,
      });
    });
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, result, exit };
}

export function runCli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  return startCli(args, options).result;
}

/** Runs a command that must succeed; fails the test with its stderr otherwise. */
export async function runCliOk(args: readonly string[], options: CliOptions): Promise<CliResult> {
  const r = await runCli(args, options);
  assert.equal(
    r.code,
    0,
    `keyhold ${args.join(" ")} exited ${r.code} (${r.signal ?? "no signal"}): ${r.stderr}`,
  );
  return r;
}

/** A scratch world (its own store, state and host key) with `keyhold init` already run. */
export async function initWorld(prefix = "keyhold-inv-"): Promise<Scratch> {
  const scratch = makeScratch(prefix);
  await runCliOk(["init"], { env: scratch.env });
  return scratch;
}

/** Parses the first stderr line as `keyhold: <message> [CODE]`. */
export function firstErrorLine(text: string): { line: string; message: string; code: string } {
  const line = (text.split("\n")[0] ?? "").replace(/\r$/, "");
  const m = ERROR_LINE.exec(line);
  assert.ok(m, `first line is not 'keyhold: <message> [CODE]': ${JSON.stringify(line)}`);
  return { line, message: m[1] as string, code: m[2] as string };
}

/** A value quoted for /bin/sh. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
