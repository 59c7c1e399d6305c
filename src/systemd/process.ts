import { spawn, spawnSync } from "node:child_process";

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs a tool with `input` on its stdin and collects stdout as bytes. Secret values travel only
 * through stdin/stdout pipes, never argv or the environment. The stdout chunks are wiped after
 * they are joined, so the only copy left is the returned buffer.
 */
export function runTool(
  command: string,
  args: readonly string[],
  options: { input?: Uint8Array; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 30_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.stdin.on("error", () => {
      // The tool may exit before reading all input (bad arguments); its exit status says why.
    });
    child.on("close", (code, signal) => {
      const stdout = Buffer.concat(out);
      for (const chunk of out) chunk.fill(0);
      resolve({ code, signal, stdout, stderr: Buffer.concat(err).toString("utf8") });
    });
    child.stdin.end(options.input);
  });
}

/** The synchronous twin of runTool, for loadSecretSync. */
export function runToolSync(
  command: string,
  args: readonly string[],
  options: { input?: Uint8Array; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): ToolResult {
  const result = spawnSync(command, args, {
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
