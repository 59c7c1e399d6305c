import {
  closeSync,
  constants,
  type Dirent,
  fstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  statSync,
} from "node:fs";
import { basename, dirname, relative, resolve, sep } from "node:path";
import { SecretError } from "../secret/index.js";
import {
  type ArchiveKind,
  archiveBudget,
  archiveKind,
  archiveMembers,
  MAX_ARCHIVE_DEPTH,
} from "./archives.js";
import { detect } from "./detect.js";
import { type Finding, type FindingPlace, toFinding } from "./finding.js";
import type { KnownValueSet } from "./fingerprint-index.js";
import { catFileBatch, listStagedBlobs, listWorkTreeFiles, objectSizes, workTreeTop } from "./git.js";
import type { Leak } from "./history-groups.js";
import { displayPath, joinPath, type PathInput, parentOf, pathBytes, pathText } from "./path.js";
import { EMPTY_POLICY, type ScanPolicy } from "./policy.js";
import { NO_PROGRESS, type ScanProgress } from "./progress.js";
import type { Rule } from "./rule.js";
import { PATTERN_RULES } from "./rules/index.js";
import { DEFAULT_MAX_SIZE, type SkipReason, skipByContent, skipByName } from "./skip.js";
import { fromUtf16 } from "./utf16.js";

export type ScanMode = "tree" | "staged" | "history" | "range" | "push" | "message" | "stdin";

export interface ScanOptions {
  /** Pattern rules to run (default: all). */
  rules?: readonly Rule[];
  /** Stored values to look for (from the fingerprint index). */
  known?: KnownValueSet;
  /** Files, blobs or messages larger than this are skipped (default 8 MiB). */
  maxSize?: number;
  policy?: ScanPolicy;
  progress?: ScanProgress;
  env?: NodeJS.ProcessEnv;
}

export interface ScanStats {
  /** Files (tree) or blobs (staged, history) read and scanned. */
  scanned: number;
  /** Commit and annotated-tag messages scanned (history, and a commit message of its own). */
  messages: number;
  bytes: number;
  skipped: Partial<Record<SkipReason | "allowlisted", number>>;
  /** Findings left out because the baseline accepts them. */
  accepted: number;
  seconds: number;
  /** Why the scan saw less than it was asked to (a shallow or partial clone), one sentence each. */
  warnings: string[];
  /**
   * Files that should have been scanned and could not be read, one line each (the path as
   * `displayPath` writes it, and why), at most MAX_FAILURES_LISTED of them. Any makes the scan
   * fail (the CLI exits 2): a file that cannot be read is never passed over as clean.
   */
  failures: string[];
}

/** How many unreadable files (or archive limits) a result names; `skipped` counts them all. */
export const MAX_FAILURES_LISTED = 20;

export interface ScanResult {
  mode: ScanMode;
  /** The directory paths are relative to (the repository top in a git work tree). */
  root: string;
  findings: Finding[];
  /** History, range and push scans: the findings grouped by value and place (history-groups.ts). */
  leaks?: Leak[];
  stats: ScanStats;
}

/** Scans bytes in memory. Each call is independent; the matcher holds no state between files. */
export class Scanner {
  readonly #rules: readonly Rule[];
  readonly #byId: ReadonlyMap<string, Rule>;
  readonly #known: KnownValueSet | undefined;
  readonly #maxSize: number;
  readonly #policy: ScanPolicy;
  readonly #progress: ScanProgress;
  readonly stats: ScanStats = {
    scanned: 0,
    messages: 0,
    bytes: 0,
    skipped: {},
    accepted: 0,
    seconds: 0,
    warnings: [],
    failures: [],
  };
  readonly findings: Finding[] = [];

  constructor(options: ScanOptions = {}) {
    this.#policy = options.policy ?? EMPTY_POLICY;
    const rules = options.rules ?? PATTERN_RULES;
    this.#rules = rules.filter((r) => !this.#policy.allowRules.has(r.id));
    this.#byId = new Map(rules.map((r) => [r.id, r]));
    this.#known = options.known;
    this.#maxSize = options.maxSize ?? DEFAULT_MAX_SIZE;
    this.#progress = options.progress ?? NO_PROGRESS;
  }

  get maxSize(): number {
    return this.#maxSize;
  }

  /** Counts a file or blob that was not scanned, under its reason (shown in the summary). */
  skip(reason: SkipReason | "allowlisted"): void {
    this.stats.skipped[reason] = (this.stats.skipped[reason] ?? 0) + 1;
  }

  /** Counts a file that could not be read and names it: the scan fails (see `ScanStats.failures`). */
  unreadable(path: PathInput, why: string): void {
    this.skip("unreadable");
    if (this.stats.failures.length < MAX_FAILURES_LISTED)
      this.stats.failures.push(`${displayPath(pathBytes(path))}: ${why}`);
  }

  /** Why a path is not worth reading (allowlist, lock files, binary extensions), if it is not. */
  unwanted(path: PathInput): SkipReason | "allowlisted" | undefined {
    const text = pathText(pathBytes(path));
    if (this.#policy.pathAllowed(text)) return "allowlisted";
    return archiveKind(text) === undefined ? skipByName(text) : undefined;
  }

  /** Whether a path is worth reading at all; a path that is not is counted as skipped. */
  wants(path: PathInput): boolean {
    const reason = this.unwanted(path);
    if (reason) {
      this.skip(reason);
      return false;
    }
    return true;
  }

  /**
   * Scans one file's content; findings go to `findings` unless the baseline accepts them. A file
   * that looks binary (a NUL early on) is skipped unless `content` is "any".
   */
  scan(
    path: PathInput,
    raw: Buffer,
    where: { commit?: string; blob?: string } = {},
    content: "files" | "any" = "files",
  ): void {
    if (raw.length > this.#maxSize) {
      this.skip("too-large");
      return;
    }
    const name = pathBytes(path);
    const kind = content === "files" ? archiveKind(pathText(name)) : undefined;
    if (kind !== undefined)
      this.#scanArchive(name, kind, raw, { ...where, archive: name }, 1, archiveBudget(this.#maxSize));
    else this.#scanContent(name, raw, where, content);
  }

  #scanContent(name: Buffer, raw: Buffer, where: ArchivePlace, content: "files" | "any"): void {
    const bytes = fromUtf16(raw);
    const text = pathText(name);
    const reason = content === "any" ? undefined : skipByContent(text, bytes);
    if (reason) {
      this.skip(reason);
      return;
    }
    this.stats.scanned++;
    this.#detect(bytes, text, { path: name, ...where });
  }

  /**
   * Scans an archive's members as files named `archive!member` (archives.ts): archives inside
   * it are opened down to MAX_ARCHIVE_DEPTH, all of them sharing one budget of bytes and
   * members. Each limit met is counted under its reason and named in a warning.
   */
  #scanArchive(
    label: Buffer,
    kind: ArchiveKind,
    raw: Buffer,
    where: ArchivePlace,
    depth: number,
    budget: ReturnType<typeof archiveBudget>,
  ): void {
    for (const item of archiveMembers(kind, raw, budget)) {
      if (!("data" in item)) {
        this.skip(item.skip);
        this.#warn(
          `${displayPath(label)}: ${item.why}; ${item.fatal ? "the rest of it was" : "that member was"} not scanned`,
        );
        continue;
      }
      const path = Buffer.concat([label, ARCHIVE_SEPARATOR, item.name]);
      const text = pathText(item.name);
      const inner = archiveKind(text);
      const reason = this.#policy.pathAllowed(pathText(path))
        ? "allowlisted"
        : inner
          ? undefined
          : skipByName(text);
      if (reason !== undefined) this.skip(reason);
      else if (inner === undefined) this.#scanContent(path, item.data, where, "files");
      else if (depth >= MAX_ARCHIVE_DEPTH) {
        this.skip("archive-depth");
        this.#warn(
          `${displayPath(path)}: an archive nested deeper than ${MAX_ARCHIVE_DEPTH} levels was not opened`,
        );
      } else this.#scanArchive(path, inner, item.data, where, depth + 1, budget);
    }
  }

  /** A warning for the summary; at most MAX_FAILURES_LISTED of them, the counts say the rest. */
  #warn(text: string): void {
    if (this.stats.warnings.length < MAX_FAILURES_LISTED) this.stats.warnings.push(text);
  }

  /**
   * Scans the message of a commit or an annotated tag (a key pasted into one is in every clone).
   * A message is scanned whatever bytes it holds: the binary and name rules are for files.
   */
  scanMessage(message: Buffer, place: FindingPlace & { message: "commit" | "tag" }): void {
    if (message.length > this.#maxSize) {
      this.skip("too-large");
      return;
    }
    this.stats.messages++;
    this.#detect(message, "", place);
  }

  #detect(bytes: Buffer, name: string, place: FindingPlace): void {
    this.stats.bytes += bytes.length;
    for (const d of detect(bytes, name, this.#rules, this.#known)) {
      const finding = toFinding(d, place, this.#byId);
      if (this.#policy.accepts(finding)) this.stats.accepted++;
      else this.findings.push(finding);
    }
    this.#progress.update(this.stats.scanned + this.stats.messages, this.stats.bytes);
  }

  finish(mode: ScanMode, root: string, started: number): ScanResult {
    this.#progress.done();
    this.stats.seconds = (performance.now() - started) / 1000;
    return { mode, root, findings: this.findings, stats: this.stats };
  }
}

/** Where content was found: a blob of a commit, and the archive (in the tree) holding it. */
type ArchivePlace = { commit?: string; blob?: string; archive?: Buffer };

/** Between an archive's path and a member's name in a finding: `bundle.zip!inner/app.env`. */
const ARCHIVE_SEPARATOR = Buffer.from("!");

type ReadResult = Buffer | "too-large" | "outside-root" | { unreadable: string } | undefined;

// Errors that mean "nothing to scan here": the file was deleted from the work tree (git still
// lists it), a parent is no longer a directory, or the last component is a symlink (O_NOFOLLOW),
// which holds no content of its own. Anything else (EACCES, ENAMETOOLONG, EIO, …) is a file
// that should have been scanned and was not: the scan fails.
const NOTHING_THERE = new Set(["ENOENT", "ENOTDIR", "ELOOP"]);

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? "read failed";
}

function insideRoot(real: Buffer, realRoot: Buffer): boolean {
  if (real.equals(realRoot)) return true;
  const prefix = realRoot[realRoot.length - 1] === 0x2f ? realRoot : Buffer.concat([realRoot, SLASH]);
  return real.length > prefix.length && real.subarray(0, prefix.length).equals(prefix);
}

const SLASH = Buffer.from("/");

/**
 * Where an open descriptor really is: /proc/self/fd names the file that was opened, so a
 * directory swapped for a symlink between the check and the open is still caught. Falls back
 * to realpath where /proc is not mounted.
 */
function realPathOfOpen(fd: number, path: Buffer): Buffer | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`, { encoding: "buffer" });
  } catch {
    try {
      return realpathSync.native(path, { encoding: "buffer" });
    } catch {
      return undefined;
    }
  }
}

type DirVerdict = "inside" | "outside" | "gone" | { unreadable: string };

/**
 * Reads files below one root without leaving it. O_NOFOLLOW refuses a symlink as the last
 * component only; a symlinked *parent* directory (a work tree changed after checkout, an
 * unpacked artifact) would lead outside. So each parent directory's real path is checked before
 * anything in it is opened, and the opened file's real path again after. Paths are bytes:
 * realpathSync.native, because the JavaScript realpathSync turns a Buffer into a string on the
 * way and loses every byte that is not UTF-8.
 */
class TreeReader {
  readonly #realRoot: Buffer;
  readonly #dirs = new Map<string, DirVerdict>();

  constructor(root: string) {
    this.#realRoot = realpathSync.native(root, { encoding: "buffer" });
  }

  #parent(dir: Buffer): DirVerdict {
    const key = dir.toString("latin1");
    let verdict = this.#dirs.get(key);
    if (verdict === undefined) {
      try {
        verdict = insideRoot(realpathSync.native(dir, { encoding: "buffer" }), this.#realRoot)
          ? "inside"
          : "outside";
      } catch (err) {
        verdict = NOTHING_THERE.has(errorCode(err)) ? "gone" : { unreadable: errorCode(err) };
      }
      this.#dirs.set(key, verdict);
    }
    return verdict;
  }

  /** A regular file's content; undefined for anything else (symlink, FIFO, device) or if it is gone. */
  read(path: Buffer, maxSize: number): ReadResult {
    const parent = this.#parent(parentOf(path));
    if (parent === "gone") return undefined;
    if (parent !== "inside") return parent === "outside" ? "outside-root" : parent;
    let fd: number;
    try {
      fd = openSync(
        path,
        constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
      );
    } catch (err) {
      return NOTHING_THERE.has(errorCode(err)) ? undefined : { unreadable: errorCode(err) };
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return undefined;
      const real = realPathOfOpen(fd, path);
      if (real === undefined || !insideRoot(real, this.#realRoot)) return "outside-root";
      if (st.size > maxSize) return "too-large";
      const buf = Buffer.allocUnsafe(st.size);
      let off = 0;
      while (off < st.size) {
        const n = readSync(fd, buf, off, st.size - off, off);
        if (n === 0) break;
        off += n;
      }
      return off === st.size ? buf : buf.subarray(0, off);
    } catch (err) {
      return { unreadable: errorCode(err) };
    } finally {
      closeSync(fd);
    }
  }
}

const DOT_GIT = Buffer.from(".git");

/**
 * Every regular file below `dir` but `.git/` (at any depth), relative to it, as bytes: names come
 * from readdir with encoding "buffer", so a name that is not valid UTF-8 is kept as it is. A
 * directory that cannot be listed is a failure, named in `failures`.
 */
function walk(dir: string, failures: (path: Buffer, why: string) => void): Buffer[] {
  const files: Buffer[] = [];
  const pending: Buffer[] = [Buffer.alloc(0)];
  for (let rel = pending.pop(); rel !== undefined; rel = pending.pop()) {
    let entries: Dirent<Buffer>[];
    try {
      entries = readdirSync(joinPath(dir, rel), { withFileTypes: true, encoding: "buffer" });
    } catch (err) {
      if (!NOTHING_THERE.has(errorCode(err))) failures(rel, errorCode(err));
      continue;
    }
    for (const entry of entries) {
      if (entry.name.equals(DOT_GIT)) continue; // the repository, or a submodule's pointer to it
      const path = joinPath(rel, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) files.push(path);
    }
  }
  return files.sort(Buffer.compare);
}

export interface TreeOptions {
  /** Include files .gitignore excludes (walks the directory instead of asking git). */
  allFiles?: boolean;
}

/**
 * Scans a directory. In a git work tree it reads what git would commit (tracked files plus
 * untracked ones that are not ignored); with `allFiles`, or outside git, every regular file
 * below `dir` except `.git/`. Paths are reported relative to the repository top (or `dir`).
 */
export async function scanTree(
  dir: string,
  tree: TreeOptions,
  options: ScanOptions = {},
): Promise<ScanResult> {
  const started = performance.now();
  const target = resolve(dir);
  // A single file is scanned on its own (paths relative to its repository, or its directory).
  const single = statSync(target, { throwIfNoEntry: false })?.isFile() === true;
  const absolute = single ? dirname(target) : target;
  const top = await workTreeTop({ cwd: absolute, env: options.env }).catch((err) => {
    if (err instanceof SecretError && err.code === "GIT_FAILED" && /not found/.test(err.message))
      return undefined;
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new SecretError("FILE_NOT_FOUND", `no such directory: ${dir}`);
    }
    throw err;
  });
  const root = top ?? absolute;
  const scanner = new Scanner(options);
  const files = single
    ? [Buffer.from(basename(target))]
    : top !== undefined && !tree.allFiles
      ? await listWorkTreeFiles({ cwd: absolute, env: options.env })
      : walk(absolute, (path, why) => scanner.unreadable(path, `cannot list the directory (${why})`));
  const prefix = relative(root, absolute).split(sep).join("/");
  const reader = new TreeReader(root);
  for (const rel of files) {
    const path = joinPath(prefix, rel);
    if (!scanner.wants(path)) continue;
    const bytes = reader.read(joinPath(absolute, rel), scanner.maxSize);
    if (bytes === undefined) continue;
    if (Buffer.isBuffer(bytes)) scanner.scan(path, bytes);
    else if (typeof bytes === "string") scanner.skip(bytes);
    else scanner.unreadable(path, `cannot read it (${bytes.unreadable})`);
  }
  return scanner.finish("tree", root, started);
}

export async function requireTop(dir: string, env: NodeJS.ProcessEnv | undefined): Promise<string> {
  const top = await workTreeTop({ cwd: resolve(dir), env });
  if (top === undefined) {
    throw new SecretError("NOT_A_GIT_REPOSITORY", `not inside a git repository: ${dir}`, {
      hint: "--staged and --history need a git work tree",
    });
  }
  return top;
}

/** Scans what is staged for the next commit: each added or modified blob in the index. */
export async function scanStaged(dir: string, options: ScanOptions = {}): Promise<ScanResult> {
  const started = performance.now();
  const top = await requireTop(dir, options.env);
  const git = { cwd: top, env: options.env };
  const scanner = new Scanner(options);
  const staged = (await listStagedBlobs(git)).filter((b) => scanner.wants(b.path));
  const pathsByOid = new Map<string, Buffer[]>();
  for (const b of staged) pathsByOid.set(b.oid, [...(pathsByOid.get(b.oid) ?? []), b.path]);
  // Sizes first, so an over-size blob is never read (a staged 2 GB file costs nothing).
  const sizes = await objectSizes([...pathsByOid.keys()], git);
  const wanted: string[] = [];
  for (const [oid, paths] of pathsByOid) {
    const size = sizes.get(oid);
    if (size !== undefined && size > scanner.maxSize) for (const _ of paths) scanner.skip("too-large");
    else wanted.push(oid);
  }
  for await (const object of catFileBatch(wanted, { ...git, maxSize: scanner.maxSize })) {
    for (const path of pathsByOid.get(object.oid) ?? []) {
      if (object.data !== undefined) scanner.scan(path, object.data, { blob: object.oid });
      else scanner.skip(object.type === "missing" ? "missing" : "too-large");
    }
  }
  return scanner.finish("staged", top, started);
}

/**
 * Scans a commit message before it is committed (the commit-msg hook hands git's message file):
 * reported as a commit message, with no commit id yet; `root` is the repository top the report
 * names. Lines from git's cut line (`# ------------------------ >8 ------------------------`,
 * before the diff `git commit -v` shows) on are not part of the message and are not scanned.
 */
export function scanCommitMessage(message: Buffer, root: string, options: ScanOptions = {}): ScanResult {
  const started = performance.now();
  const scanner = new Scanner(options);
  scanner.scanMessage(beforeCutLine(message), { message: "commit" });
  return scanner.finish("message", root, started);
}

/** How a finding in standard input is named: no file can be called this in a report's `path:line`. */
export const STDIN_NAME = "<stdin>";

/**
 * Scans text handed on standard input (`git diff | keyhold scan -`, an editor's buffer, a log
 * pipeline): one input, lines and columns counted in it. Binary input is skipped and counted like
 * a binary file; the path rules (allowlisted paths, lock files) do not apply to it.
 */
export function scanInput(input: Buffer, root: string, options: ScanOptions = {}): ScanResult {
  const started = performance.now();
  const scanner = new Scanner(options);
  // Whatever bytes it holds: the binary rule is for files in a tree; input piped in on purpose
  // with a NUL in it (a log, a dump, a patch of a binary file) would otherwise pass as clean.
  scanner.scan(STDIN_NAME, input, {}, "any");
  return scanner.finish("stdin", root, started);
}

function beforeCutLine(message: Buffer): Buffer {
  const cut = /^\S -{24} >8 -{24}$/m.exec(message.toString("latin1"));
  return cut === null ? message : message.subarray(0, cut.index);
}
