import type * as ChildProcesses from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createRequire } from "node:module";
import { wipeAll } from "../secret/index.js";

let childProcessModule: typeof ChildProcesses | undefined;

/**
 * node:child_process, loaded at the first process keyhold starts: a command that starts none
 * (`vault get` with keyhold's keys from the key cache) does not load it and the modules it brings
 * (about 4 ms).
 */
export function childProcesses(): typeof ChildProcesses {
  childProcessModule ??= createRequire(import.meta.url)("node:child_process") as typeof ChildProcesses;
  return childProcessModule;
}

const TRUSTED_DIRECTORIES = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"];
const resolved = new Map<string, string>();

/**
 * The absolute path of a system tool in the system's own directories, so a PATH handed down by
 * `sudo -E` or a caller cannot put another program in its place while keyhold runs as root.
 * Falls back to the bare name (PATH lookup) only where none of those directories has it.
 */
export function systemTool(name: string): string {
  let path = resolved.get(name);
  if (path === undefined) {
    path = name;
    for (const dir of TRUSTED_DIRECTORIES) {
      try {
        accessSync(`${dir}/${name}`, constants.X_OK);
        path = `${dir}/${name}`;
        break;
      } catch {
        // not here
      }
    }
    resolved.set(name, path);
  }
  return path;
}

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** A tool already running, waiting for its input (startTool). */
export interface StartedTool {
  /** Gives the tool `input` on its stdin, closes it, and resolves with the tool's result. Once only. */
  finish(input?: Uint8Array): Promise<ToolResult>;
  /** Kills the tool (SIGKILL) without giving it anything more; a no-op once it has exited. */
  kill(): void;
}

/**
 * Starts a tool that takes its input later: its exec, dynamic linking and start-up overlap the
 * caller's own work, and finish() hands it the input. Until then it waits on its stdin, so a
 * caller that gives it nothing must kill() it (it would wait out `timeoutMs` otherwise). Secret
 * values travel only through stdin/stdout pipes, never argv or the environment. The stdout chunks
 * are wiped after they are joined, so the only copy left is the returned buffer.
 */
export function startTool(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): StartedTool {
  const child = childProcesses().spawn(command, args, {
    env: options.env ?? process.env,
    stdio: ["pipe", "pipe", "pipe"],
    timeout: options.timeoutMs ?? 30_000,
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let exited = false;
  const result = new Promise<ToolResult>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (e) => {
      exited = true;
      reject(e);
    });
    child.on("close", (code, signal) => {
      exited = true;
      const stdout = Buffer.concat(out);
      wipeAll(out);
      resolve({ code, signal, stdout, stderr: Buffer.concat(err).toString("utf8") });
    });
  });
  result.catch(() => undefined); // thrown by finish(); a killed tool's failure concerns no one
  child.stdin.on("error", () => {
    // The tool may exit before reading all input (bad arguments); its exit status says why.
  });
  let given = false;
  return {
    finish(input) {
      if (given) throw new Error("startTool: finish() called twice");
      given = true;
      child.stdin.end(input);
      return result;
    },
    kill() {
      given = true;
      if (exited) return;
      // The signal first: once it is pending the tool runs no more of its code, so it never sees
      // its stdin close (an end of input it would act on).
      child.kill("SIGKILL");
      child.stdin.destroy();
    },
  };
}

/** Runs a tool with `input` on its stdin and collects stdout as bytes (startTool, given at once). */
export function runTool(
  command: string,
  args: readonly string[],
  options: { input?: Uint8Array; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ToolResult> {
  try {
    return startTool(command, args, options).finish(options.input);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** The synchronous twin of runTool, for loadSecretSync. */
export function runToolSync(
  command: string,
  args: readonly string[],
  options: { input?: Uint8Array; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): ToolResult {
  const result = childProcesses().spawnSync(command, args, {
    env: options.env ?? process.env,
    input: options.input,
    timeout: options.timeoutMs ?? 30_000,
    maxBuffer: 4 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return {
    code: result.status,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr.toString("utf8"),
  };
}
