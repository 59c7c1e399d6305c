import { spawn } from "node:child_process";
import { withoutFinalNewline } from "../load/index.js";
import { KeyholdError, Secret, wipe, wipeAll } from "../secret/index.js";
import { assertCredentialValueSize, CREDENTIAL_VALUE_MAX } from "../systemd/index.js";
import { looksLikeSecret, splitCommandLine } from "../units/index.js";

/*
 * `rotate NAME --from-command CMD`: the new value is what CMD writes to its stdout (a provider's
 * CLI minting a key, say). CMD is split into words like `keyhold unit --exec` (plain words and
 * '…'/"…" quotes, no expansions) and run without a shell: a pipe or a redirection is the
 * caller's to ask for explicitly (`--from-command "/bin/sh -c '…'"`). The value travels only
 * through the pipe into keyhold's memory: never argv, the environment or a file. Its stdin is
 * /dev/null and its stderr is keyhold's. A command that fails, is killed, prints nothing or too
 * much changes nothing: the value is refused before anything is written.
 */

export interface ValueCommandOptions {
  env: NodeJS.ProcessEnv;
  keepNewline?: boolean;
  /** How long the command may take (ms). */
  timeoutMs?: number;
  stderr?: "inherit" | "ignore";
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Checks the command line (absolute program, no word that looks like a key) and returns its words. */
export function valueCommandWords(line: string): string[] {
  const words = splitCommandLine(line);
  const program = words[0];
  if (program === undefined) throw new KeyholdError("USAGE", "--from-command is empty");
  // keyhold runs as root: a program found through PATH could be anyone's.
  if (!program.startsWith("/"))
    throw new KeyholdError("USAGE", "the first word of --from-command must be an absolute path", {
      hint: "e.g. --from-command '/usr/local/bin/mint-key --service billing'",
    });
  words.forEach((w, i) => {
    if (looksLikeSecret(w))
      throw new KeyholdError(
        "SECRET_IN_COMMAND",
        `word ${i + 1} of --from-command looks like a secret value`,
        {
          hint: "a command line is readable by every user in /proc/PID/cmdline; let the command read what it needs from a file or its environment",
        },
      );
  });
  return words;
}

/** Runs the command and returns its stdout as the new value; the caller disposes it. */
export function valueFromCommand(name: string, line: string, options: ValueCommandOptions): Promise<Secret> {
  const [program, ...args] = valueCommandWords(line);
  return new Promise((resolve, reject) => {
    const child = spawn(program as string, args, {
      env: options.env,
      stdio: ["ignore", "pipe", options.stderr ?? "inherit"],
    });
    const chunks: Buffer[] = [];
    let total = 0;
    let refused: KeyholdError | undefined;
    /**
     * Stops listening: the command is killed and the pipe closed on keyhold's side. A process the
     * command started keeps the pipe open after the command is gone (and is not killed with it):
     * waiting for the pipe's end would wait for that process.
     */
    const refuse = (err: KeyholdError) => {
      refused ??= err;
      wipeAll(chunks);
      chunks.length = 0;
      child.kill("SIGKILL");
      child.stdout.destroy();
    };
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const timer = setTimeout(
      () =>
        refuse(
          new KeyholdError(
            "COMMAND_FAILED",
            `--from-command did not finish within ${Math.round(timeoutMs / 1000)} s (it, or a process it started, kept its output open); nothing was stored`,
          ),
        ),
      timeoutMs,
    );
    child.stdout.on("data", (chunk: Buffer) => {
      if (refused) {
        wipe(chunk);
        return;
      }
      chunks.push(chunk);
      total += chunk.length;
      // Room for a final "\r\n" that is not part of the value; the exact size is checked below.
      if (total > CREDENTIAL_VALUE_MAX + 2)
        refuse(
          new KeyholdError(
            "TOO_LARGE",
            `--from-command wrote more than ${CREDENTIAL_VALUE_MAX} bytes, the most a credential value may be; nothing was stored`,
          ),
        );
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      wipeAll(chunks);
      const code = (err as NodeJS.ErrnoException).code;
      reject(
        new KeyholdError(
          "COMMAND_FAILED",
          `--from-command could not be started (${code ?? "error"}); nothing was stored`,
        ),
      );
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (refused) return reject(refused);
      if (code !== 0) {
        wipeAll(chunks);
        return reject(
          new KeyholdError(
            "COMMAND_FAILED",
            `--from-command ${signal ? `was killed (${signal})` : `exited with code ${code}`}; nothing was stored`,
          ),
        );
      }
      const all = Buffer.concat(chunks, total);
      wipeAll(chunks);
      try {
        const value = options.keepNewline ? all : withoutFinalNewline(all);
        assertCredentialValueSize(name, value.length);
        resolve(Secret.fromBytes(value));
      } catch (err) {
        reject(err);
      } finally {
        wipe(all);
      }
    });
  });
}
