import { VERSION } from "../defaults.js";
// The error classes and the core-dump switch only, not the secret barrel: that loads node:crypto,
// which commands without a secret of their own (`keyhold trigger`) never need.
import { excludeMemoryFromCoreDumps } from "../secret/core-dumps.js";
import { isSecretError, SecretError } from "../secret/errors.js";
import {
  type CommandDef,
  isGroup,
  nearest,
  type OptionTable,
  runCommand,
  runGroup,
  shownWord,
} from "./command.js";
import { printable } from "../secret/printable.js";
import { phase } from "../timing.js";
import { commands } from "./commands.js";
import { EXIT_FAILED, EXIT_OK, EXIT_PIPE_CLOSED, EXIT_USAGE, type CliIo, writeLine } from "./io.js";

function usage(io: CliIo): void {
  writeLine(io.stdout, "usage: keyhold COMMAND [ARGS…]\n\ncommands:");
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  for (const [word, entry] of Object.entries(commands))
    writeLine(io.stdout, `  ${word.padEnd(width)}  ${entry.summary}`);
  writeLine(io.stdout, "\nRun 'keyhold help COMMAND' (or 'keyhold COMMAND --help') for a command's options.");
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

/** How a command's failures map to exit codes: its own table, else 2 for usage and 1 for the rest. */
type Exits = Pick<CommandDef<OptionTable>, "exitOnFailure" | "exitCodes">;

/**
 * Prints an error as one line `keyhold: <message> [<CODE>]`, plus a hint line when known. A
 * message may carry text from outside (a record key, a server's reply): control characters in
 * it are escaped, so it can neither rewrite what the terminal shows nor start a line of its own.
 */
export function reportError(io: CliIo, err: unknown, exits: Exits = {}): number {
  // Quietly, and only for keyhold's own output: a socket's EPIPE is a failure to report.
  if (isPipeClosed(err) && (closed.has(io.stdout) || closed.has(io.stderr))) return EXIT_PIPE_CLOSED;
  if (isSecretError(err)) {
    writeLine(io.stderr, `keyhold: ${printable(err.message)} [${err.code}]`);
    if (err.hint) writeLine(io.stderr, `keyhold: hint: ${printable(err.hint)}`);
    const own = exits.exitCodes?.[err.code];
    if (own !== undefined) return own;
    return err.code === "USAGE" ? EXIT_USAGE : (exits.exitOnFailure ?? EXIT_FAILED);
  }
  const system = fromSystemError(err);
  if (system) return reportError(io, system, exits);
  // Unexpected errors: show the message only (never an object dump that could hold a value).
  const message = err instanceof Error ? err.message : "unexpected failure";
  writeLine(io.stderr, `keyhold: ${printable(message)} [INTERNAL]`);
  return exits.exitOnFailure ?? EXIT_FAILED;
}

/** The error a write gets once the reader of a pipe has gone (`keyhold … | head -1`). */
function isPipeClosed(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "EPIPE" || code === "ERR_STREAM_DESTROYED";
}

const watched = new WeakSet<object>();
/** Output streams whose reader has gone (process.stdout is never marked destroyed, so keep count here). */
const closed = new WeakSet<object>();

/**
 * A reader that goes away ends keyhold's output quietly, as it ends `cat`'s: further output is
 * dropped, no stack trace is printed, and the operation under way still finishes (and is audited)
 * rather than stopping half done. Node ignores SIGPIPE, so without this the write's EPIPE would
 * surface as an uncaught error. Listeners stay for the process's life: the error of a last write
 * arrives after main has returned.
 */
function endQuietlyOnClosedPipe(io: CliIo): void {
  for (const stream of [io.stdout, io.stderr]) {
    if (watched.has(stream) || typeof stream.on !== "function") continue;
    watched.add(stream);
    // The event follows the failed write's callback before any promise settles, so a command
    // that fails on that write is reported (or not) with `closed` already up to date.
    stream.on("error", (err: unknown) => {
      if (!isPipeClosed(err)) throw err;
      closed.add(stream);
    });
  }
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  endQuietlyOnClosedPipe(io);
  const [word, ...rest] = argv;
  // `keyhold help set`, `keyhold help vault put`: the same as `--help` after the words.
  if (word === "help" && rest.length > 0 && !rest[0]?.startsWith("-")) return main([...rest, "--help"], io);
  if (word === undefined || word === "help" || word === "--help" || word === "-h") {
    usage(io);
    return word === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (word === "--version" || word === "version") {
    writeLine(io.stdout, `keyhold ${VERSION}`);
    return EXIT_OK;
  }
  const entry = Object.hasOwn(commands, word) ? commands[word] : undefined;
  if (entry === undefined) {
    const near = nearest(word, Object.keys(commands));
    writeLine(io.stderr, `keyhold: unknown command: ${shownWord(word)} [USAGE]`);
    writeLine(
      io.stderr,
      near === undefined
        ? "keyhold: hint: run 'keyhold help' for the list of commands"
        : `keyhold: hint: did you mean 'keyhold ${near}'? ('keyhold help' lists them all)`,
    );
    return EXIT_USAGE;
  }
  // Every command but help may hold a key in memory: a crash must not write it to disk.
  excludeMemoryFromCoreDumps();
  let exits: Exits = {};
  try {
    const command = await entry.load();
    // A group marks the phase once it has loaded the subcommand's module too.
    if (isGroup(command)) return await runGroup(command, rest, io);
    phase("command");
    exits = command;
    return await runCommand(command, rest, io);
  } catch (err) {
    return reportError(io, err, exits);
  }
}
