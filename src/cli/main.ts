import { excludeMemoryFromCoreDumps, isSecretError, SecretError } from "../secret/index.js";
import { printable } from "../secret/printable.js";
import { commands } from "./commands.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliIo, writeLine } from "./io.js";

const VERSION = "0.1.0";

function usage(io: CliIo): void {
  writeLine(io.stdout, "usage: keyhold COMMAND [ARGS…]\n\ncommands:");
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  for (const [word, entry] of Object.entries(commands))
    writeLine(io.stdout, `  ${word.padEnd(width)}  ${entry.summary}`);
  writeLine(io.stdout, "\nRun 'keyhold COMMAND --help' for a command's options.");
}

/**
 * Turns an operating-system error that escaped a command (EACCES on a root-only file, a full
 * disk) into a coded error; the path is shown, never file contents.
 */
function fromSystemError(err: unknown): SecretError | undefined {
  const e = err as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof e.code !== "string") return undefined;
  const where = e.path ? `: ${e.path}` : "";
  switch (e.code) {
    case "EACCES":
    case "EPERM":
      return process.geteuid?.() === 0
        ? new SecretError("IO_ERROR", `permission denied${where}`, { cause: err })
        : new SecretError("NOT_ROOT", `permission denied${where}`, {
            cause: err,
            hint: "run this command with sudo",
          });
    case "ENOSPC":
    case "EDQUOT":
      return new SecretError("IO_ERROR", `no space left on device${where}`, { cause: err });
    case "EROFS":
      return new SecretError("IO_ERROR", `read-only file system${where}`, { cause: err });
    case "ENOENT":
      return new SecretError("FILE_NOT_FOUND", `no such file or directory${where}`, { cause: err });
    default:
      return undefined;
  }
}

/**
 * Prints an error as one line `keyhold: <message> [<CODE>]`, plus a hint line when known. A
 * message may carry text from outside (a record key, a server's reply): control characters in
 * it are escaped, so it can neither rewrite what the terminal shows nor start a line of its own.
 */
export function reportError(io: CliIo, err: unknown): number {
  if (isSecretError(err)) {
    writeLine(io.stderr, `keyhold: ${printable(err.message)} [${err.code}]`);
    if (err.hint) writeLine(io.stderr, `keyhold: hint: ${printable(err.hint)}`);
    return err.code === "USAGE" ? EXIT_USAGE : EXIT_FAILED;
  }
  const system = fromSystemError(err);
  if (system) return reportError(io, system);
  // Unexpected errors: show the message only (never an object dump that could hold a value).
  const message = err instanceof Error ? err.message : "unexpected failure";
  writeLine(io.stderr, `keyhold: ${printable(message)} [INTERNAL]`);
  return EXIT_FAILED;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [word, ...rest] = argv;
  if (word === undefined || word === "help" || word === "--help" || word === "-h") {
    usage(io);
    return word === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (word === "--version" || word === "version") {
    writeLine(io.stdout, `keyhold ${VERSION}`);
    return EXIT_OK;
  }
  const entry = commands[word];
  if (entry === undefined) {
    writeLine(io.stderr, `keyhold: unknown command: ${printable(word)} [USAGE]`);
    writeLine(io.stderr, "keyhold: hint: run 'keyhold help' for the list of commands");
    return EXIT_USAGE;
  }
  // Every command but help may hold a key in memory: a crash must not write it to disk.
  excludeMemoryFromCoreDumps();
  try {
    const command = await entry.load();
    return await command(rest, io);
  } catch (err) {
    return reportError(io, err);
  }
}
