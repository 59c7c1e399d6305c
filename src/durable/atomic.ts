import { randomBytes } from "node:crypto";
import {
  close,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsync,
  fsyncSync,
  open,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { processTag } from "./lock.js";

// The flushes of the *Async variants run on libuv's thread pool: a server's event loop never
// waits for the disk, only the caller that awaits them does.
export const fsyncAsync = promisify(fsync);
const openAsync = promisify(open);
const closeAsync = promisify(close);

export interface AtomicWriteOptions {
  /** File mode, applied with fchmod so the umask cannot widen or narrow it. Default 0600. */
  mode?: number;
  /** Owner to set with fchown before the rename (root only). */
  uid?: number;
  gid?: number;
  /**
   * fsync the directory after the rename (default true), so the new file survives a crash.
   * false only where finding the old file after a power loss is a state the reader accepts
   * (the audit log's anchor may lag its head); a later fsync of the same directory, or the
   * kernel's own writeback, makes the rename durable.
   */
  syncDirectory?: boolean;
}

/** fsync a directory so a rename or unlink in it survives a crash. */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsyncDirectory with the open and the flush on the thread pool. */
export async function fsyncDirectoryAsync(dir: string): Promise<void> {
  const fd = await openAsync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fsyncAsync(fd);
  } finally {
    await closeAsync(fd);
  }
}

/** The most bytes a file name may have (Linux NAME_MAX). */
const NAME_MAX = 255;

/**
 * A temporary name in the same directory as `path`: hidden, `.NAME.tmp-<pid>.<start>-<random>`.
 * A name too long for that (a credential name may take all 255 bytes) is shortened in it: the
 * random part keeps it unique, and the shape keeps it recognisable as keyhold's temporary file.
 */
export function temporaryNameFor(path: string): string {
  const suffix = `.tmp-${processTag()}-${randomBytes(6).toString("hex")}`;
  const room = NAME_MAX - 1 - suffix.length;
  const base = [...basename(path)];
  while (Buffer.byteLength(base.join(""), "utf8") > room) base.pop();
  return join(dirname(path), `.${base.join("")}${suffix}`);
}

/**
 * A replacement of a file written to its temporary file but not yet in place (stageFileAtomic):
 * fsync `fd` (the caller may do so together with other files), then installStaged, or
 * discardStaged if anything went wrong.
 */
export interface StagedFile {
  readonly path: string;
  readonly temporary: string;
  readonly fd: number;
  /** Whether fd is still open: a closed descriptor's number may be another file's by now. */
  open: boolean;
}

/**
 * The first half of writeFileAtomic: the new content in a temporary file in the same directory
 * as `path` (O_EXCL, O_NOFOLLOW, exact mode and owner), not yet fsynced. For a caller that makes
 * several files durable at once (the audit log's record, head and anchor): their fsyncs can run
 * side by side, and none of the new files is visible before its own installStaged.
 */
export function stageFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): StagedFile {
  const mode = options.mode ?? 0o600;
  const temporary = temporaryNameFor(path);
  const fd = openSync(
    temporary,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  const staged: StagedFile = { path, temporary, fd, open: true };
  try {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    if (options.uid !== undefined || options.gid !== undefined) {
      // Only when the owner differs: a file root creates is root's already, and a sandbox
      // without @chown (SystemCallFilter=~@privileged, the scheduled rotation's) refuses even a
      // fchown that would change nothing. fchown may clear set-id bits, so chown before chmod.
      const st = fstatSync(fd);
      if ((options.uid ?? st.uid) !== st.uid || (options.gid ?? st.gid) !== st.gid)
        fchownSync(fd, options.uid ?? -1, options.gid ?? -1);
    }
    fchmodSync(fd, mode);
    return staged;
  } catch (err) {
    discardStaged(staged);
    throw err;
  }
}

/**
 * The second half: renames the staged file (fsynced by the caller) over its target and, unless
 * told otherwise, fsyncs the directory. On failure the temporary file is removed.
 */
export function installStaged(
  staged: StagedFile,
  options: Pick<AtomicWriteOptions, "syncDirectory"> = {},
): void {
  renameStaged(staged);
  if (options.syncDirectory ?? true) fsyncDirectory(dirname(staged.path));
}

/** installStaged with the directory's fsync on the thread pool. */
export async function installStagedAsync(
  staged: StagedFile,
  options: Pick<AtomicWriteOptions, "syncDirectory"> = {},
): Promise<void> {
  renameStaged(staged);
  if (options.syncDirectory ?? true) await fsyncDirectoryAsync(dirname(staged.path));
}

/** Closes the staged file and renames it over its target; on failure removes it. */
function renameStaged(staged: StagedFile): void {
  try {
    staged.open = false;
    closeSync(staged.fd);
    renameSync(staged.temporary, staged.path);
  } catch (err) {
    discardStaged(staged);
    throw err;
  }
}

/** Closes and removes a staged file that will not be installed; never throws. */
export function discardStaged(staged: StagedFile): void {
  if (staged.open) {
    staged.open = false;
    try {
      closeSync(staged.fd);
    } catch {
      // nothing more to do
    }
  }
  try {
    unlinkSync(staged.temporary);
  } catch {
    // never created or already gone
  }
}

/**
 * Replaces `path` with `data` so that a crash at any moment leaves either the old file or the
 * new one, whole: write a temporary file in the same directory (O_EXCL, O_NOFOLLOW, exact mode),
 * fsync it, rename it over the target, fsync the directory (see syncDirectory).
 */
export function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): void {
  const staged = stageFileAtomic(path, data, options);
  try {
    fsyncSync(staged.fd);
  } catch (err) {
    discardStaged(staged);
    throw err;
  }
  installStaged(staged, options);
}

/**
 * writeFileAtomic for a server: the same steps in the same order, with the same guarantee when it
 * resolves, but its two flushes (the file's fsync, the directory's) on the thread pool; the other
 * steps (open, write, fchmod, rename) only change what the kernel holds in memory. Writes of one
 * path must not overlap: the later could be renamed into place first, then replaced by the earlier.
 */
export async function writeFileAtomicAsync(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const staged = stageFileAtomic(path, data, options);
  try {
    await fsyncAsync(staged.fd);
  } catch (err) {
    discardStaged(staged);
    throw err;
  }
  await installStagedAsync(staged, options);
}
