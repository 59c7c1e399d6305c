import type { Readable, Writable } from "node:stream";
import { KeyholdError, SecretError } from "../secret/errors.js";
import type { Secret } from "../secret/index.js";

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

/** Refuses to print a value to a terminal (scrollback, screen sharing) unless `--reveal` said so. */
export function refuseTerminal(
  io: CliIo,
  reveal: boolean | undefined,
  what: string,
  hint = "pipe it, or add --reveal",
): void {
  if ((io.stdout as { isTTY?: boolean }).isTTY && !reveal) {
    throw new KeyholdError("TERMINAL_REFUSED", `refusing to print ${what} to a terminal`, { hint });
  }
}

/** Writes a value's bytes to stdout, then disposes of it (whatever the write did). */
export async function writeSecret(io: CliIo, value: Secret): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) =>
      io.stdout.write(value.exposeBytes(), (e) => (e ? reject(e) : resolve())),
    );
  } finally {
    value.dispose();
  }
}
