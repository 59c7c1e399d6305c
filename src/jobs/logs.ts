import { chmod, close, constants, fchmod, fstat, mkdir, open, type Stats, unlink } from "node:fs";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";

/**
 * The run logs, `<outputDir>/logs/<run id>.log` (docs/jobserver.md, "Setup"). The outputs
 * directory is shared with the developers, so every name under it may be swapped between two
 * opens: `logs/` for a symbolic link into the server's own state or into someone's /dev/shm, a
 * log for a FIFO whose open never returns, or for a file of someone else's text. Hence:
 *
 * - Paths are walked one component at a time from a held directory descriptor, refusing
 *   symbolic links at every step. Node has no openat(), but `/proc/self/fd/N/NAME` resolves NAME
 *   inside the directory descriptor N holds, whatever has been renamed since; O_NOFOLLOW refuses
 *   NAME itself being a link, O_DIRECTORY it being anything but a directory.
 * - `logs/` must be a directory of this server's own UID that nobody else may write to, so no one
 *   else can put a name in it; a log must be a regular file of the server's own.
 * - A directory on the way that every local user may write to (without the sticky bit, which
 *   keeps others from renaming what is not theirs) is refused when a log is created: whoever can
 *   rename a name on the path decides where the path leads.
 * - Everything runs on libuv's thread pool, never on the event loop, and the log is opened with
 *   O_NONBLOCK: a FIFO or a hung file system stalls one pool thread at worst, not the server.
 */

const openAsync = promisify(open);
const closeAsync = promisify(close);
const fstatAsync = promisify(fstat);
const mkdirAsync = promisify(mkdir);
const chmodAsync = promisify(chmod);
const unlinkAsync = promisify(unlink);
const fchmodAsync = promisify(fchmod);

/** O_PATH (Linux, the same on every architecture keyhold runs on; not exported by node:fs). */
const O_PATH = 0o10000000;
/** One step of the walk: a directory, never a symbolic link (the run's init walks with the same flags). */
export const WALK = O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** The sticky bit: in such a directory only a name's owner may rename or remove it. */
const S_ISVTX = 0o1000;
const LOGS = "logs";
const LOG_MODE = 0o644;
const DIR_MODE = 0o755;

/** Why a log could not be opened: a sentence for the run's error or the server's journal. */
export class LogProblem extends Error {}

/** Where the log of run `id` of a job with this output directory lives. */
export function runLogPath(outputDir: string, id: string): string {
  return join(outputDir, LOGS, `${id}.log`);
}

function at(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`;
}

function describe(err: unknown, path: string): LogProblem {
  if (err instanceof LogProblem) return err;
  const code = (err as NodeJS.ErrnoException).code ?? "error";
  if (code === "ELOOP" || code === "ENOTDIR")
    return new LogProblem(`${path} is not a directory (a symbolic link or a file)`);
  return new LogProblem(`${path}: ${code}`);
}

async function closeQuietly(fd: number): Promise<void> {
  try {
    await closeAsync(fd);
  } catch {
    // already closed
  }
}

/** Opens directory `name` inside `dirFd`; with `create`, makes it (0755) first if it is missing. */
async function openStep(dirFd: number, name: string, create: boolean): Promise<number> {
  try {
    return await openAsync(at(dirFd, name), WALK);
  } catch (err) {
    if (!create || (err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  try {
    await mkdirAsync(at(dirFd, name), DIR_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const fd = await openAsync(at(dirFd, name), WALK);
  // Readable by the developers whatever the server's umask, when it is new and ours.
  const stats = await fstatAsync(fd);
  if (stats.uid === process.geteuid?.() && (stats.mode & 0o777) !== DIR_MODE)
    await chmodAsync(`/proc/self/fd/${fd}`, DIR_MODE).catch(() => undefined);
  return fd;
}

/**
 * Refuses, when a log is created, a directory on the way (`last`: `path` itself) that every local
 * user may write to: they could rename a name in it (not in a sticky one, but `path` itself they
 * could take the name `logs` in first).
 */
async function checkStep(fd: number, walked: string, last: boolean): Promise<void> {
  const stats = await fstatAsync(fd);
  const sticky = (stats.mode & S_ISVTX) !== 0 && !last;
  if ((stats.mode & 0o002) !== 0 && !sticky) {
    throw new LogProblem(
      `${walked} is writable by every local user, who could then redirect the logs (docs/jobserver.md, "Setup")`,
    );
  }
}

/**
 * Opens the absolute, normalised directory `path` (an O_PATH descriptor) without following a
 * symbolic link anywhere on the way. With `strict` (creating a log), missing directories are
 * made, and a directory on the way that every local user may rename names in is refused, and so
 * is `path` itself if every local user may write to it at all (they could take the name `logs`
 * first). Throws a LogProblem or the system error; the caller closes the descriptor.
 *
 * Each step is one round trip to the thread pool, not three: the next name is looked up while
 * the directory it is in is checked (nothing is created in a directory before its check), and a
 * descriptor left behind is closed without waiting (an O_PATH descriptor's close does no I/O).
 */
export async function openDirectory(path: string, strict: boolean): Promise<number> {
  const parts = path.split("/").filter((part) => part !== "");
  if (parts.some((part) => part === "." || part === ".."))
    throw new LogProblem(`${path} is not a normalised path`);
  let fd = await openAsync("/", WALK);
  let walked = "";
  try {
    for (const part of parts) {
      const [opened, checked] = await Promise.allSettled([
        openAsync(at(fd, part), WALK),
        strict && walked !== "" ? checkStep(fd, walked, false) : undefined,
      ]);
      if (checked.status === "rejected") {
        if (opened.status === "fulfilled") void closeQuietly(opened.value);
        throw checked.reason;
      }
      walked += `/${part}`;
      let next: number;
      try {
        if (opened.status === "fulfilled") next = opened.value;
        else if (strict && (opened.reason as NodeJS.ErrnoException).code === "ENOENT")
          next = await openStep(fd, part, true);
        else throw opened.reason;
      } catch (err) {
        throw describe(err, walked);
      }
      void closeQuietly(fd);
      fd = next;
    }
    if (strict && walked !== "") await checkStep(fd, walked, true);
    return fd;
  } catch (err) {
    await closeQuietly(fd);
    throw err;
  }
}

/** The checks on `logs/` once open: the server's own, and nobody else may add or rename names in it. */
function checkLogsDirectory(stats: Stats, path: string): void {
  const uid = process.geteuid?.() ?? -1;
  if (stats.uid !== uid)
    throw new LogProblem(`${path} belongs to uid ${stats.uid}, not to the job server (uid ${uid})`);
  if ((stats.mode & 0o022) !== 0) throw new LogProblem(`${path} is writable by others than the job server`);
}

async function openLogsDirectory(outputDir: string, create: boolean): Promise<number> {
  const path = join(outputDir, LOGS);
  const parent = await openDirectory(outputDir, create);
  let fd: number;
  try {
    fd = await openStep(parent, LOGS, create);
  } catch (err) {
    throw describe(err, path);
  } finally {
    void closeQuietly(parent);
  }
  try {
    checkLogsDirectory(await fstatAsync(fd), path);
    return fd;
  } catch (err) {
    await closeQuietly(fd);
    throw err;
  }
}

/**
 * Creates the log of run `id`: a new file (O_EXCL) of mode 0644 in the server's own `logs/`
 * under `outputDir`, which it creates when missing. Returns the descriptor to write to, or the
 * problem (for the run's OUTPUT_FAILED error).
 */
export async function openRunLog(
  outputDir: string,
  id: string,
): Promise<{ fd: number; path: string } | { problem: string }> {
  const path = runLogPath(outputDir, id);
  let logs: number;
  try {
    logs = await openLogsDirectory(outputDir, true);
  } catch (err) {
    return { problem: describe(err, join(outputDir, LOGS)).message };
  }
  try {
    const fd = await openAsync(
      at(logs, basename(path)),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_NONBLOCK,
      LOG_MODE,
    );
    // The log is scrubbed and meant for the people who trigger jobs: readable whatever the umask.
    await fchmodAsync(fd, LOG_MODE);
    return { fd, path };
  } catch (err) {
    return { problem: describe(err, path).message };
  } finally {
    void closeQuietly(logs);
  }
}

/**
 * Removes the log at `path` (a run record's `log`) if it is still the server's own, reached the
 * same way as for reading. The developers cannot delete logs themselves (`logs/` is the server's,
 * so that nobody else can put a name in it); they ask the server, and the server forgets a log
 * with its run record. No one else can add or rename a name in `logs/`, so the file checked is the
 * file unlinked. Returns whether a log was removed.
 */
export async function removeRunLog(path: string): Promise<boolean> {
  const log = await openRunLogForReading(path);
  if (log === undefined) return false;
  await closeQuietly(log.fd);
  const logs = await openLogsDirectory(dirname(dirname(path)), false);
  try {
    await unlinkAsync(at(logs, basename(path)));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw describe(err, path);
  } finally {
    await closeQuietly(logs);
  }
}

/**
 * Opens the log at `path` (a run record's `log`) for reading, or returns undefined when it is not
 * there or not the server's own: `logs/` reached without a symbolic link and owned by the server,
 * the log a regular file owned by the server. The caller closes the descriptor.
 */
export async function openRunLogForReading(path: string): Promise<{ fd: number; size: number } | undefined> {
  const logsPath = dirname(path);
  if (basename(logsPath) !== LOGS || !path.endsWith(".log")) return undefined;
  let logs: number;
  try {
    logs = await openLogsDirectory(dirname(logsPath), false);
  } catch {
    return undefined;
  }
  let fd: number | undefined;
  try {
    fd = await openAsync(
      at(logs, basename(path)),
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
    );
    const stats = await fstatAsync(fd);
    if (!stats.isFile() || stats.uid !== process.geteuid?.()) {
      await closeQuietly(fd);
      return undefined;
    }
    return { fd, size: stats.size };
  } catch {
    if (fd !== undefined) await closeQuietly(fd);
    return undefined;
  } finally {
    await closeQuietly(logs);
  }
}
