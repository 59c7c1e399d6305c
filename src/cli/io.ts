import type { Readable, Writable } from "node:stream";
import { SecretError } from "../secret/index.js";

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdin: Readable & { isTTY?: boolean; fd?: number };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_FINDINGS = 3;
/** The status a shell gives a process SIGPIPE ended: the reader of keyhold's output went away. */
export const EXIT_PIPE_CLOSED = 141;

export function usageError(message: string, hint?: string): SecretError {
  return new SecretError("USAGE", message, hint === undefined ? {} : { hint });
}

export function writeLine(stream: Writable, line = ""): void {
  stream.write(`${line}\n`);
}

export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
