import type { Readable, Writable } from "node:stream";
import { SecretError } from "../secret/index.js";

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdin: Readable & { isTTY?: boolean; fd?: number };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

/** A command takes its own arguments (after the command word) and returns an exit code. */
export type Command = (argv: string[], io: CliIo) => Promise<number>;

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_FINDINGS = 3;

export function usageError(message: string, hint?: string): SecretError {
  return new SecretError("USAGE", message, hint === undefined ? {} : { hint });
}

export function writeLine(stream: Writable, line = ""): void {
  stream.write(`${line}\n`);
}

export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Runs a parseArgs call in keyhold's voice: a bad option becomes a USAGE error with the
 * command's synopsis as the hint. Kept here, with no store code around it, so the job client commands can use it too. Use: `const { values, positionals } = parsed(() => parseArgs({...}), synopsis)`.
 */
export function parsed<R>(parse: () => R, synopsis: string): R {
  try {
    return parse();
  } catch (err) {
    const reason = err instanceof Error ? (err.message.split("\n")[0] ?? "") : "";
    const text = reason.replace(/\.$/, "").replace(/^./, (c) => c.toLowerCase()) || "bad arguments";
    throw usageError(text, `usage: keyhold ${synopsis}`);
  }
}
