import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  readSync,
  type Stats,
  writeFileSync,
} from "node:fs";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { catFileBatch } from "../scan/git.js";

/**
 * codePolicy "committed" (docs/jobserver.md): the job runs from a pristine copy of the commit
 * HEAD names, never from the live work tree, and the record names that commit.
 *
 * The developers own the repository, and everything in it that git would act on is theirs to
 * set: config (filters, fsmonitor, hooks, includes, textconv), attributes, the index, replace
 * refs, grafts, the commit-graph, alternates, a partial clone's promisor remote. The server holds
 * every key, so none of that may run or count here:
 *   - HEAD, its ref and packed-refs are read by this module, each path component opened without
 *     following a symbolic link (through /proc/self/fd), with a size limit and O_NONBLOCK (a FIFO
 *     planted as HEAD cannot stall the server). A `.git` file or link (a linked work tree, a
 *     submodule) is followed only to a directory owned by the `.git` entry's owner, and likewise
 *     its `commondir`.
 *   - git itself runs only as `git cat-file --batch`, with a git directory this module makes
 *     (empty config, no refs, no hooks), the system and global config off, HOME nowhere, and the
 *     developers' object directory as GIT_OBJECT_DIRECTORY, under src/scan/git.ts's hardening (no
 *     replace objects, no grafts, no transport, no lazy fetch). cat-file reads objects as stored:
 *     no filter, no attribute, no index, no commit-graph.
 *   - Every object is hashed here and compared with its id: a loose object the developers
 *     rewrote, or one found through their alternates, cannot put other bytes in the copy.
 *   - Tree entries are checked (no "", ".", "..", "/", NUL or ".git" names, no duplicates, known
 *     modes) and written with O_EXCL into directories made here, so no entry can write outside
 *     the copy. Submodules become empty directories.
 *   - Time, total size and number of entries are bounded (SNAPSHOT_LIMITS).
 */

export interface SnapshotLimits {
  /** Total bytes of the files written. */
  maxBytes: number;
  /** Files, links and directories. */
  maxEntries: number;
  timeoutMs: number;
}

export const SNAPSHOT_LIMITS: SnapshotLimits = {
  maxBytes: 512 * 1024 * 1024,
  maxEntries: 200_000,
  timeoutMs: 120_000,
};

export type SnapshotErrorCode = "CODE_NOT_COMMITTED" | "SNAPSHOT_LIMIT" | "SNAPSHOT_FAILED";

export class SnapshotError extends Error {
  override readonly name = "SnapshotError";
  constructor(
    readonly code: SnapshotErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface Snapshot {
  /** The commit copied. */
  revision: string;
  /** The live work tree's top directory (where the copy is shown to the job). */
  root: string;
  /** The copy: the commit's tree. */
  tree: string;
}

const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const SMALL_FILE = 4096;
const PACKED_REFS_MAX = 64 * 1024 * 1024;
const SYMREF_DEPTH = 5;
/** Refs git keeps per work tree (in the work tree's own git directory, not the common one). */
const PER_WORKTREE = /^refs\/(?:worktree|bisect|rewritten)\//;

function notCommitted(message: string): SnapshotError {
  return new SnapshotError("CODE_NOT_COMMITTED", message);
}

function failed(message: string): SnapshotError {
  return new SnapshotError("SNAPSHOT_FAILED", message);
}

/** A name inside an open directory, looked up by the kernel in that directory (an openat(2)). */
function at(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`;
}

const DIRECTORY = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NONBLOCK;

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? "error";
}

/** A regular file's bytes (at most `max`), or undefined when it does not exist. Never follows a link. */
function readSmallAt(dirFd: number, name: string, max: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(at(dirFd, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoOf(err);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw notCommitted(`cannot read ${name} in the repository: ${code}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notCommitted(`${name} in the repository is not a regular file`);
    if (st.size > max) throw notCommitted(`${name} in the repository is larger than ${max} bytes`);
    const buf = Buffer.alloc(st.size);
    let done = 0;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/** Opens a directory given by a path the developers may have pointed anywhere; checks its owner. */
function openOwnedDirectory(path: string, owner: number, what: string): number {
  let fd: number;
  try {
    fd = openSync(path, DIRECTORY);
  } catch (err) {
    throw notCommitted(`${what} does not lead to a directory: ${errnoOf(err)}`);
  }
  const st = fstatSync(fd);
  if (st.uid !== owner) {
    closeSync(fd);
    throw notCommitted(`${what} leads to a directory owned by uid ${st.uid}, not by the repository's owner`);
  }
  return fd;
}

function pathOf(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`);
}

interface GitDirectories {
  root: string;
  /** The work tree's own git directory (HEAD, per-work-tree refs). */
  gitFd: number;
  /** The common git directory (refs, packed-refs, objects); the same as gitFd outside linked work trees. */
  commonFd: number;
}

/** The repository holding `cwd`: the nearest directory upwards with a `.git` entry. */
function findRepository(cwd: string): { root: string; entry: Stats } {
  let dir = cwd;
  for (;;) {
    try {
      return { root: dir, entry: lstatSync(join(dir, ".git")) };
    } catch {
      // not here (or not readable here): look further up
    }
    if (dir === "/") throw notCommitted(`${cwd} is not inside a git repository`);
    dir = dirname(dir);
  }
}

function openGitDirectories(cwd: string): GitDirectories {
  const { root, entry } = findRepository(cwd);
  if (root === "/") throw notCommitted("a repository at / cannot be copied for a job");
  const dotGit = join(root, ".git");
  let gitFd: number;
  if (entry.isDirectory()) {
    try {
      gitFd = openSync(dotGit, DIRECTORY | constants.O_NOFOLLOW);
    } catch (err) {
      throw notCommitted(`cannot open ${dotGit}: ${errnoOf(err)}`);
    }
    const st = fstatSync(gitFd);
    if (st.ino !== entry.ino || st.dev !== entry.dev) {
      closeSync(gitFd);
      throw notCommitted(`${dotGit} changed while it was opened`);
    }
  } else if (entry.isFile() || entry.isSymbolicLink()) {
    // A linked work tree or a submodule: `.git` names the git directory.
    let target: string;
    if (entry.isSymbolicLink()) target = readlinkSync(dotGit);
    else {
      const rootFd = openSync(root, DIRECTORY);
      try {
        const text = readSmallAt(rootFd, ".git", SMALL_FILE)?.toString("utf8") ?? "";
        const m = /^gitdir: (.+?)\r?\n?$/.exec(text);
        if (!m) throw notCommitted(`${dotGit} is not a "gitdir:" file`);
        target = m[1] as string;
      } finally {
        closeSync(rootFd);
      }
    }
    gitFd = openOwnedDirectory(resolve(root, target), entry.uid, `${dotGit}`);
  } else {
    throw notCommitted(`${dotGit} is neither a directory nor a gitdir file`);
  }
  let commonFd = gitFd;
  try {
    const common = readSmallAt(gitFd, "commondir", SMALL_FILE)
      ?.toString("utf8")
      .replace(/\r?\n$/, "");
    if (common !== undefined) {
      const owner = fstatSync(gitFd).uid;
      commonFd = openOwnedDirectory(resolve(pathOf(gitFd), common), owner, `the commondir of ${dotGit}`);
    }
  } catch (err) {
    closeSync(gitFd);
    throw err;
  }
  return { root, gitFd, commonFd };
}

function validRefName(name: string): boolean {
  if (!/^refs\/[A-Za-z0-9._+@/-]{1,240}$/.test(name)) return false;
  return name
    .split("/")
    .every(
      (part) => part.length > 0 && !part.startsWith(".") && !part.endsWith(".lock") && !part.includes(".."),
    );
}

/** A loose ref's content: each directory component opened without following links. */
function readLooseRef(dirFd: number, name: string): Buffer | undefined {
  const parts = name.split("/");
  const opened: number[] = [];
  try {
    let fd = dirFd;
    for (const part of parts.slice(0, -1)) {
      try {
        fd = openSync(at(fd, part), DIRECTORY | constants.O_NOFOLLOW);
      } catch (err) {
        const code = errnoOf(err);
        if (code === "ENOENT" || code === "ENOTDIR") return undefined;
        throw notCommitted(`cannot read ref ${name}: ${code}`);
      }
      opened.push(fd);
    }
    return readSmallAt(fd, parts.at(-1) as string, SMALL_FILE);
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

function packedRef(commonFd: number, name: string): string | undefined {
  const packed = readSmallAt(commonFd, "packed-refs", PACKED_REFS_MAX);
  if (packed === undefined) return undefined;
  for (const line of packed.toString("utf8").split("\n")) {
    if (line.startsWith("#") || line.startsWith("^")) continue;
    const space = line.indexOf(" ");
    if (space > 0 && line.slice(space + 1).replace(/\r$/, "") === name) return line.slice(0, space);
  }
  return undefined;
}

/** The commit id HEAD names, read without git. */
function resolveHead(dirs: GitDirectories): string {
  let content = readSmallAt(dirs.gitFd, "HEAD", SMALL_FILE)?.toString("utf8").trim();
  for (let depth = 0; depth <= SYMREF_DEPTH; depth++) {
    if (content === undefined) throw notCommitted("the repository has no HEAD");
    if (OID.test(content)) return content;
    const m = /^ref: (\S+)$/.exec(content);
    if (!m) throw notCommitted("HEAD is neither a commit id nor a ref");
    const name = m[1] as string;
    if (!validRefName(name)) throw notCommitted("HEAD names an invalid ref");
    const loose = readLooseRef(PER_WORKTREE.test(name) ? dirs.gitFd : dirs.commonFd, name);
    content = loose !== undefined ? loose.toString("utf8").trim() : packedRef(dirs.commonFd, name);
    if (content === undefined) throw notCommitted(`${name} has no commit yet`);
  }
  throw notCommitted("HEAD is a chain of symbolic refs too long to follow");
}

/** The private git directory cat-file runs in: nothing of the developers' configuration. */
function makeGitDirectory(dir: string, sha256: boolean): void {
  mkdirSync(join(dir, "objects"), { recursive: true, mode: 0o700 });
  mkdirSync(join(dir, "refs"), { mode: 0o700 });
  writeFileSync(join(dir, "HEAD"), "ref: refs/heads/none\n", { mode: 0o600 });
  writeFileSync(
    join(dir, "config"),
    sha256
      ? "[core]\n\trepositoryformatversion = 1\n[extensions]\n\tobjectformat = sha256\n"
      : "[core]\n\trepositoryformatversion = 0\n",
    { mode: 0o600 },
  );
}

type Wanted =
  | { type: "commit" }
  | { type: "tree"; paths: string[] }
  | { type: "blob"; places: { path: string; mode: string }[] };

const FILE_MODES: Readonly<Record<string, number>> = { "100644": 0o644, "100664": 0o644, "100755": 0o755 };

function checkName(name: string, raw: Buffer): void {
  const bad =
    name.length === 0 ||
    name === "." ||
    name === ".." ||
    name.includes("/") ||
    name.toLowerCase() === ".git" ||
    !Buffer.from(name, "utf8").equals(raw);
  if (bad)
    throw failed(
      `the commit has a tree entry that cannot be written safely: ${JSON.stringify(name.slice(0, 80))}`,
    );
}

/** Entries of a tree object: mode, name, object id (hex). */
function parseTree(data: Buffer, oidBytes: number): { mode: string; name: string; oid: string }[] {
  const entries: { mode: string; name: string; oid: string }[] = [];
  const seen = new Set<string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const nul = data.indexOf(0x00, space + 1);
    if (space < 0 || nul < 0 || nul + 1 + oidBytes > data.length) throw failed("a tree object is malformed");
    const mode = data.toString("latin1", at, space);
    const raw = data.subarray(space + 1, nul);
    const name = raw.toString("utf8");
    checkName(name, raw);
    if (seen.has(name)) throw failed(`a tree has two entries named ${JSON.stringify(name.slice(0, 80))}`);
    seen.add(name);
    entries.push({ mode, name, oid: data.toString("hex", nul + 1, nul + 1 + oidBytes) });
    at = nul + 1 + oidBytes;
  }
  return entries;
}

/**
 * Copies the commit HEAD names in the repository holding `cwd` into `work/tree`, using
 * `work/git` as git's own directory. `work` must be a fresh private directory of the server.
 */
export async function takeSnapshot(
  cwd: string,
  work: string,
  limits: SnapshotLimits = SNAPSHOT_LIMITS,
): Promise<Snapshot> {
  const dirs = openGitDirectories(cwd);
  let revision: string;
  let objects: string;
  try {
    revision = resolveHead(dirs);
    objects = join(pathOf(dirs.commonFd), "objects");
  } finally {
    closeSync(dirs.gitFd);
    if (dirs.commonFd !== dirs.gitFd) closeSync(dirs.commonFd);
  }
  const sha256 = revision.length === 64;
  const gitDir = join(work, "git");
  const tree = join(work, "tree");
  makeGitDirectory(gitDir, sha256);
  mkdirSync(tree, { mode: 0o755 });
  const env = {
    PATH: "/usr/bin:/bin",
    LANG: "C",
    HOME: "/nonexistent",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_DIR: gitDir,
    GIT_OBJECT_DIRECTORY: objects,
  };
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let bytes = 0;
  let entries = 0;
  let round = new Map<string, Wanted>([[revision, { type: "commit" }]]);
  try {
    while (round.size > 0) {
      const next = new Map<string, Wanted>();
      const answered = new Set<string>();
      const wantTree = (oid: string, path: string) => {
        const w = next.get(oid);
        if (w === undefined) next.set(oid, { type: "tree", paths: [path] });
        else if (w.type === "tree") w.paths.push(path);
        else throw failed("an object is used both as a tree and as a file");
      };
      const wantBlob = (oid: string, path: string, mode: string) => {
        const w = next.get(oid);
        if (w === undefined) next.set(oid, { type: "blob", places: [{ path, mode }] });
        else if (w.type === "blob") w.places.push({ path, mode });
        else throw failed("an object is used both as a tree and as a file");
      };
      for await (const object of catFileBatch([...round.keys()], {
        cwd: work,
        env,
        signal,
        maxSize: limits.maxBytes - bytes,
      })) {
        const wanted = round.get(object.oid);
        if (wanted === undefined) continue;
        answered.add(object.oid);
        if (object.type === "missing") throw failed(`the repository lacks object ${object.oid.slice(0, 12)}`);
        if (object.type !== wanted.type)
          throw failed(`object ${object.oid.slice(0, 12)} is a ${object.type}, not a ${wanted.type}`);
        if (object.data === undefined)
          throw new SnapshotError("SNAPSHOT_LIMIT", `the commit is larger than ${limits.maxBytes} bytes`);
        const hash = createHash(sha256 ? "sha256" : "sha1")
          .update(`${object.type} ${object.size}\0`)
          .update(object.data)
          .digest("hex");
        if (hash !== object.oid) throw failed(`object ${object.oid.slice(0, 12)} does not match its id`);
        if (wanted.type === "commit") {
          const m = /^tree ([0-9a-f]{40,64})\n/.exec(object.data.toString("latin1", 0, 80));
          if (!m || !OID.test(m[1] as string)) throw failed("the commit names no tree");
          wantTree(m[1] as string, "");
        } else if (wanted.type === "tree") {
          const list = parseTree(object.data, sha256 ? 32 : 20);
          for (const base of wanted.paths) {
            for (const e of list) {
              if (++entries > limits.maxEntries)
                throw new SnapshotError(
                  "SNAPSHOT_LIMIT",
                  `the commit has more than ${limits.maxEntries} entries`,
                );
              const path = base === "" ? e.name : `${base}/${e.name}`;
              if (path.length > 4000) throw failed("the commit has a path longer than 4000 characters");
              if (e.mode === "40000") {
                await mkdir(join(tree, path), { mode: 0o755 });
                wantTree(e.oid, path);
              } else if (e.mode === "160000") {
                await mkdir(join(tree, path), { mode: 0o755 }); // a submodule: not part of this commit
              } else if (e.mode === "120000" || FILE_MODES[e.mode] !== undefined) {
                wantBlob(e.oid, path, e.mode);
              } else {
                throw failed(`the commit has an entry of unknown mode ${JSON.stringify(e.mode.slice(0, 8))}`);
              }
            }
          }
        } else {
          for (const place of wanted.places) {
            bytes += object.size;
            if (bytes > limits.maxBytes)
              throw new SnapshotError("SNAPSHOT_LIMIT", `the commit is larger than ${limits.maxBytes} bytes`);
            const path = join(tree, place.path);
            if (place.mode === "120000") {
              if (object.data.includes(0) || object.size > 4000)
                throw failed("the commit has an invalid symbolic link");
              await symlink(object.data.toString("utf8"), path);
            } else {
              await writeFile(path, object.data, { flag: "wx", mode: FILE_MODES[place.mode] });
            }
          }
        }
      }
      for (const oid of round.keys())
        if (!answered.has(oid)) throw failed(`git did not return object ${oid.slice(0, 12)}`);
      round = next;
    }
  } catch (err) {
    if (err instanceof SnapshotError) throw err;
    if (signal.aborted)
      throw new SnapshotError(
        "SNAPSHOT_LIMIT",
        `copying the commit took longer than ${limits.timeoutMs / 1000}s`,
      );
    throw failed(
      `cannot copy the commit: ${err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? "git failed") : "error"}`,
    );
  }
  return { revision, root: dirs.root, tree };
}

/**
 * Makes `target` (a directory inside the live work tree, such as the outputs) exist in the copy,
 * so it can be bound there: each component a real directory made here, never through a link the
 * commit holds. A file or link in the way is refused.
 */
export function makeMountPoint(snapshot: Snapshot, target: string): void {
  const rel = relative(snapshot.root, target);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel))
    throw failed(`${target} is not inside the repository below ${snapshot.root}`);
  let at = snapshot.tree;
  for (const part of rel.split("/")) {
    at = join(at, part);
    let st: Stats | undefined;
    try {
      st = lstatSync(at);
    } catch {
      mkdirSync(at, { mode: 0o755 });
      continue;
    }
    if (!st.isDirectory()) throw failed(`the commit has a file or link where ${target} must be a directory`);
  }
}
