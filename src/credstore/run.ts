import type { ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { rootSharedRamfs } from "../load/credentials-directory.js";
import {
  createCredentialsDirectory,
  type CredentialsDirectory,
  fileVariableFor,
  privateRunLocation,
  removeCredentialsDirectory,
} from "../load/index.js";
import { type Secret, SecretError } from "../secret/index.js";
import { assertCredentialName, childProcesses } from "../systemd/index.js";
import { phase } from "../timing.js";
import { parseProcessTag, processAlive, processTag } from "../durable/index.js";
import type { StoreLayout } from "./layout.js";
import { decryptStored } from "./store.js";

export interface RunOptions {
  /** Credentials to decrypt from the store. */
  names: readonly string[];
  /** Values loaded elsewhere (the vault); they are disposed once written to the directory. */
  values?: readonly { name: string; value: Secret }[];
  command: readonly string[];
  /** Environment for the child, before CREDENTIALS_DIRECTORY is added. */
  env: NodeJS.ProcessEnv;
  /** Run the child as this user (and own the directory by it). */
  uid?: number;
  gid?: number;
  /** Also export NAME_FILE=<path> for programs that follow that convention. */
  fileVariables?: boolean;
  /** Start the command in a session of its own (no controlling terminal); signals go to its group. */
  detached?: boolean;
  /** Awaited after decrypting and before anything is created or started (the audit log opening). */
  ready?: Promise<unknown>;
}

export interface RunResult {
  exitCode: number;
  signal: NodeJS.Signals | null;
  filesystem: "ramfs" | "tmpfs";
}

const osSignals = osConstants.signals as Record<string, number>;

/**
 * Every signal whose default action would kill keyhold before it removes the directory, and
 * that a handler can catch: the terminal's (^C, ^\, hang-up), the ones sudo relays from the
 * invoking user (SIGUSR2, SIGALRM, ...), resource limits that user set before sudo (SIGXCPU).
 * Left out: SIGKILL and SIGSTOP (uncatchable: after SIGKILL the directory stays until the next
 * run's sweep), SIGPIPE and SIGXFSZ (Node ignores both), SIGUSR1 (bin/keyhold.js already has a
 * listener, so it kills nothing), SIGSEGV, SIGBUS, SIGFPE and SIGILL (faults of keyhold itself).
 */
const FATAL_SIGNALS = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR2",
  "SIGALRM",
  "SIGVTALRM",
  "SIGPROF",
  "SIGXCPU",
  "SIGTRAP",
  "SIGABRT",
  "SIGSYS",
  "SIGIO",
  "SIGPWR",
  "SIGSTKFLT",
] as const satisfies readonly NodeJS.Signals[];

// Variables that point keyhold or systemd-creds at keys; a child has no business seeing them.
const WITHHELD = ["SYSTEMD_CREDENTIAL_SECRET", "CREDENTIALS_DIRECTORY"];

/**
 * Directories named [prefix]credentials-<pid>.<start time>-… whose keyhold process died (kill -9)
 * are removed, also when the pid now belongs to another process (names of older keyholds carry
 * the pid alone). removeCredentialsDirectory decides what may be touched and how.
 */
function sweepOrphans(place: { parent: string; prefix: string }): void {
  let entries: string[];
  try {
    entries = readdirSync(place.parent);
  } catch {
    return;
  }
  const head = `${place.prefix}credentials-`;
  for (const entry of entries) {
    if (!entry.startsWith(head)) continue;
    const owner = parseProcessTag(/^([0-9.]+)-/.exec(entry.slice(head.length))?.[1] ?? "");
    if (owner === undefined || processAlive(owner.pid, owner.started)) continue;
    removeCredentialsDirectory(join(place.parent, entry));
  }
}

/** Where `run` makes its directories: see privateRunLocation. */
export const defaultRunLocation = privateRunLocation;

/**
 * Where this run makes its directory. For root: inside one ramfs kept mounted at
 * /run/keyhold/ramfs (root's, 0711: traversable, not listable), each run's directory private
 * within it (0500), so root's own run starts no mount or umount process; the first run after
 * boot mounts it, under a lock so two first runs never stack two mounts there. A --user run's
 * directory there (0710, the user's group) holds a ramfs of its own, made read-only once its
 * files are written (createCredentialsDirectory): the user owns its files and could otherwise
 * grow one without limit in the shared ramfs. Where the shared ramfs cannot be mounted (no
 * CAP_SYS_ADMIN), /run/keyhold itself, each directory with a ramfs of its own when that can be
 * mounted, else on tmpfs. Others: see privateRunLocation. `sweep` lists every place an earlier
 * run may have left a directory.
 */
async function runLocation(): Promise<{ parent: string; prefix: string; ramfs: boolean; sweep: string[] }> {
  const place = privateRunLocation();
  if (process.geteuid?.() !== 0) return { ...place, ramfs: true, sweep: [place.parent] };
  const shared = await rootSharedRamfs({ mount: true });
  return shared !== undefined
    ? { parent: shared, prefix: "", ramfs: false, sweep: [place.parent, shared] }
    : { ...place, ramfs: true, sweep: [place.parent] };
}

/**
 * `keyhold run`: decrypt the named credentials, place them in a private directory on a memory
 * file system, run the command with CREDENTIALS_DIRECTORY pointing at it, remove the directory
 * when the command exits — also when keyhold receives SIGINT, SIGTERM, SIGHUP, SIGQUIT or any
 * other of FATAL_SIGNALS, which it forwards to the child first. Values never pass through argv
 * or the environment.
 */
export async function runWithCredentials(l: StoreLayout, options: RunOptions): Promise<RunResult> {
  const provided = options.values ?? [];
  const disposeProvided = () => {
    for (const v of provided) v.value.dispose();
  };
  try {
    if (options.command.length === 0) throw new SecretError("USAGE", "no command given after --");
    if (options.names.length === 0 && provided.length === 0)
      throw new SecretError("USAGE", "no credential names given");
    for (const name of options.names) assertCredentialName(name);
    const all = [...new Set(options.names), ...provided.map((v) => v.name)];
    for (const name of all) assertCredentialName(name);
    if (new Set(all).size !== all.length) {
      throw new SecretError("USAGE", "two credentials would have the same file name in the directory");
    }
  } catch (err) {
    disposeProvided();
    throw err;
  }
  // The decrypts start first (the audit key's already started with the caller's audit log), so
  // systemd-creds works on the other core while the directory's place is made ready.
  const unique = [...new Set(options.names)];
  const values: { name: string; value: Secret }[] = [...provided];
  const decrypted = Promise.allSettled(unique.map((name) => decryptStored(l, name))).then((settled) => {
    settled.forEach((d, i) => {
      if (d.status === "fulfilled") values.push({ name: unique[i] as string, value: d.value });
    });
    return settled;
  });
  phase("decrypt-started");

  // Signals are caught from here on, before anything exists that would need removing: the child
  // can start and print before spawn() even returns, so a handler installed after spawn() could
  // miss a signal sent the moment the child is seen. A signal that comes before the child exists
  // means: create nothing more, remove what exists, exit as if the child had died of it.
  let child: ChildProcess | undefined;
  let caught: NodeJS.Signals | undefined;
  const handlers = FATAL_SIGNALS.map(
    (signal) =>
      [
        signal,
        () => {
          caught ??= signal;
          if (child?.pid !== undefined && options.detached) {
            try {
              process.kill(-child.pid, signal);
            } catch {
              // the group is gone
            }
          } else child?.kill(signal);
        },
      ] as const,
  );
  for (const [signal, handler] of handlers) process.on(signal, handler);
  const release = () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
  const diedOf = (signal: NodeJS.Signals, filesystem: RunResult["filesystem"]): RunResult => ({
    exitCode: 128 + (osSignals[signal] ?? 0),
    signal,
    filesystem,
  });

  let dir: CredentialsDirectory | undefined;
  try {
    // Root's /run/keyhold is traversable (0711) but not listable: a --user child must reach its
    // own directory inside (root's, 0710 then 0550, the child's group, on a read-only ramfs of
    // its own); nobody else can list or enter another's.
    const place = await runLocation();
    for (const parent of place.sweep) sweepOrphans({ parent, prefix: place.prefix });
    const failed = (await decrypted).find((d) => d.status === "rejected");
    phase("decrypted");
    if (failed) throw failed.reason;
    await options.ready;
    phase("audit-ready");
    if (caught) return diedOf(caught, "ramfs");
    dir = createCredentialsDirectory(values, {
      parent: place.parent,
      prefix: `${place.prefix}credentials-${processTag()}-`,
      // A --user child gets a ramfs of its own even inside the shared one: only a mount can be
      // made read-only.
      ramfs: place.ramfs || (options.uid !== undefined && options.uid !== process.geteuid?.()),
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    phase("directory");
  } catch (err) {
    release();
    throw err;
  } finally {
    // Every value is disposed, also those of decrypts still running when something failed.
    await decrypted;
    for (const v of values) v.value.dispose();
    if (caught && dir === undefined) release();
  }

  if (dir === undefined) throw new SecretError("IO_ERROR", "no credential directory was made");
  const held = dir;
  const env: NodeJS.ProcessEnv = { ...options.env };
  for (const k of WITHHELD) delete env[k];
  env.CREDENTIALS_DIRECTORY = held.path;
  if (options.fileVariables)
    for (const { name } of values) env[fileVariableFor(name)] = join(held.path, name);

  return new Promise<RunResult>((resolve, reject) => {
    const finish = () => {
      phase("child");
      release();
      held.remove();
      phase("cleanup");
    };
    if (caught) {
      finish();
      resolve(diedOf(caught, held.filesystem));
      return;
    }
    const [file, ...args] = options.command as [string, ...string[]];
    child = childProcesses().spawn(file, args, {
      env,
      stdio: "inherit",
      detached: options.detached ?? false,
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    phase("spawned");
    child.on("error", (err: NodeJS.ErrnoException) => {
      finish();
      reject(
        new SecretError(
          "USAGE",
          `cannot run ${file}: ${err.code === "ENOENT" ? "command not found" : err.code}`,
          {
            cause: err,
          },
        ),
      );
    });
    child.on("exit", (code, signal) => {
      finish();
      const signalNumber = signal ? (osSignals[signal] ?? 0) : 0;
      resolve({ exitCode: code ?? 128 + signalNumber, signal, filesystem: held.filesystem });
    });
  });
}
