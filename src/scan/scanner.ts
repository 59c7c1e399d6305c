import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  statSync,
} from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { SecretError } from "../secret/index.js";
import { detect } from "./detect.js";
import { type Finding, toFinding } from "./finding.js";
import type { KnownValueSet } from "./fingerprint-index.js";
import {
  catFileBatch,
  type HistoryBlob,
  isShallowRepository,
  listHistoryBlobs,
  listStagedBlobs,
  listWorkTreeFiles,
  objectSizes,
  workTreeTop,
} from "./git.js";
import { EMPTY_POLICY, type ScanPolicy } from "./policy.js";
import { NO_PROGRESS, type ScanProgress } from "./progress.js";
import type { Rule } from "./rule.js";
import { PATTERN_RULES } from "./rules/index.js";
import { DEFAULT_MAX_SIZE, type SkipReason, skipByContent, skipByName } from "./skip.js";

export type ScanMode = "tree" | "staged" | "history";

export interface ScanOptions {
  /** Pattern rules to run (default: all). */
  rules?: readonly Rule[];
  /** Stored values to look for (from the fingerprint index). */
  known?: KnownValueSet;
  /** Files or blobs larger than this are skipped (default 8 MiB). */
  maxSize?: number;
  policy?: ScanPolicy;
  progress?: ScanProgress;
  env?: NodeJS.ProcessEnv;
}

export interface ScanStats {
  /** Files (tree) or blobs (staged, history) read and scanned. */
  scanned: number;
  bytes: number;
  skipped: Partial<Record<SkipReason | "allowlisted", number>>;
  /** Findings left out because the baseline accepts them. */
  accepted: number;
  seconds: number;
  /** Why the scan saw less than it was asked to (a shallow or partial clone), one sentence each. */
  warnings: string[];
}

export interface ScanResult {
  mode: ScanMode;
  /** The directory paths are relative to (the repository top in a git work tree). */
  root: string;
  findings: Finding[];
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
  readonly stats: ScanStats = { scanned: 0, bytes: 0, skipped: {}, accepted: 0, seconds: 0, warnings: [] };
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

  /** Why a path is not worth reading (allowlist, lock files, binary extensions), if it is not. */
  unwanted(path: string): SkipReason | "allowlisted" | undefined {
    return this.#policy.pathAllowed(path) ? "allowlisted" : skipByName(path);
  }

  /** Whether a path is worth reading at all; a path that is not is counted as skipped. */
  wants(path: string): boolean {
    const reason = this.unwanted(path);
    if (reason) {
      this.skip(reason);
      return false;
    }
    return true;
  }

  /** Scans one file's content; findings go to `findings` unless the baseline accepts them. */
  scan(path: string, raw: Buffer, where: { commit?: string; blob?: string } = {}): void {
    if (raw.length > this.#maxSize) {
      this.skip("too-large");
      return;
    }
    const bytes = fromUtf16(raw);
    const reason = skipByContent(path, bytes);
    if (reason) {
      this.skip(reason);
      return;
    }
    this.stats.scanned++;
    this.stats.bytes += bytes.length;
    const detections = detect(bytes, path, this.#rules, this.#known);
    for (const d of detections) {
      const finding = toFinding(d, path, this.#byId, where);
      if (this.#policy.accepts(finding)) this.stats.accepted++;
      else this.findings.push(finding);
    }
    this.#progress.update(this.stats.scanned, this.stats.bytes);
  }

  finish(mode: ScanMode, root: string, started: number): ScanResult {
    this.#progress.done();
    this.stats.seconds = (performance.now() - started) / 1000;
    return { mode, root, findings: this.findings, stats: this.stats };
  }
}

/**
 * Text saved as UTF-16 with a byte-order mark (Windows PowerShell's `>` and Out-File write .env
 * files that way) is scanned as the text it is, not skipped as binary for its NUL bytes.
 */
function fromUtf16(bytes: Buffer): Buffer {
  const le = bytes[0] === 0xff && bytes[1] === 0xfe;
  const be = bytes[0] === 0xfe && bytes[1] === 0xff;
  if (!le && !be) return bytes;
  return Buffer.from(new TextDecoder(le ? "utf-16le" : "utf-16be").decode(bytes.subarray(2)), "utf8");
}

type ReadResult = Buffer | "too-large" | "unreadable" | "outside-root" | undefined;

// Errors that mean "nothing to scan here": the file was deleted from the work tree (git still
// lists it), a parent is no longer a directory, or the last component is a symlink (O_NOFOLLOW),
// which holds no content of its own. Anything else (EACCES, ENAMETOOLONG, EIO, …) is a file
// that should have been scanned and was not: it is counted as "unreadable".
const NOTHING_THERE = new Set(["ENOENT", "ENOTDIR", "ELOOP"]);

function insideRoot(real: string, realRoot: string): boolean {
  return real === realRoot || real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
}

/**
 * Where an open descriptor really is: /proc/self/fd names the file that was opened, so a
 * directory swapped for a symlink between the check and the open is still caught. Falls back
 * to realpath where /proc is not mounted.
 */
function realPathOfOpen(fd: number, path: string): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    try {
      return realpathSync(path);
    } catch {
      return undefined;
    }
  }
}

/**
 * Reads files below one root without leaving it. O_NOFOLLOW refuses a symlink as the last
 * component only; a symlinked *parent* directory (a work tree changed after checkout, an
 * unpacked artifact) would lead outside. So each parent directory's real path is checked before
 * anything in it is opened, and the opened file's real path again after.
 */
class TreeReader {
  readonly #realRoot: string;
  readonly #dirs = new Map<string, "inside" | "outside" | "gone" | "unreadable">();

  constructor(root: string) {
    this.#realRoot = realpathSync(root);
  }

  #parent(dir: string): "inside" | "outside" | "gone" | "unreadable" {
    let verdict = this.#dirs.get(dir);
    if (verdict === undefined) {
      try {
        verdict = insideRoot(realpathSync(dir), this.#realRoot) ? "inside" : "outside";
      } catch (err) {
        verdict = NOTHING_THERE.has((err as NodeJS.ErrnoException).code ?? "") ? "gone" : "unreadable";
      }
      this.#dirs.set(dir, verdict);
    }
    return verdict;
  }

  /** A regular file's content; undefined for anything else (symlink, FIFO, device) or if it is gone. */
  read(path: string, maxSize: number): ReadResult {
    const parent = this.#parent(dirname(path));
    if (parent === "gone") return undefined;
    if (parent !== "inside") return parent === "outside" ? "outside-root" : "unreadable";
    let fd: number;
    try {
      fd = openSync(
        path,
        constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
      );
    } catch (err) {
      return NOTHING_THERE.has((err as NodeJS.ErrnoException).code ?? "") ? undefined : "unreadable";
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
    } catch {
      return "unreadable";
    } finally {
      closeSync(fd);
    }
  }
}

function walk(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    const rel = relative(dir, full);
    if (rel.split(sep).includes(".git")) continue;
    files.push(rel.split(sep).join("/"));
  }
  return files.sort();
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
  const files = single
    ? [basename(target)]
    : top !== undefined && !tree.allFiles
      ? await listWorkTreeFiles({ cwd: absolute, env: options.env })
      : walk(absolute);
  const prefix = relative(root, absolute).split(sep).join("/");
  const scanner = new Scanner(options);
  const reader = new TreeReader(root);
  for (const rel of files) {
    const path = prefix === "" ? rel : `${prefix}/${rel}`;
    if (!scanner.wants(path)) continue;
    const bytes = reader.read(join(absolute, rel), scanner.maxSize);
    if (bytes === undefined) continue;
    if (typeof bytes === "string") scanner.skip(bytes);
    else scanner.scan(path, bytes);
  }
  return scanner.finish("tree", root, started);
}

async function requireTop(dir: string, env: NodeJS.ProcessEnv | undefined): Promise<string> {
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
  const pathsByOid = new Map<string, string[]>();
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
 * Scans every blob reachable from every ref, each read once through one `git cat-file --batch`
 * process, and names the first commit that introduced it.
 */
export async function scanHistory(dir: string, options: ScanOptions = {}): Promise<ScanResult> {
  const started = performance.now();
  const top = await requireTop(dir, options.env);
  const git = { cwd: top, env: options.env };
  const scanner = new Scanner(options);
  const history = await listHistoryBlobs(git, scanner.maxSize);
  for (let i = 0; i < history.missing; i++) scanner.skip("missing");
  if (history.missing > 0) {
    scanner.stats.warnings.push(
      `history is incomplete: ${history.missing} object${history.missing === 1 ? " is" : "s are"} missing (a partial clone) and not scanned`,
    );
  }
  if (await isShallowRepository(git)) {
    scanner.stats.warnings.push(
      "history is incomplete: this is a shallow clone, so commits before its boundary are not scanned (git fetch --unshallow fetches them)",
    );
  }
  // A blob is judged by every path it had, not only its first: the same content committed as
  // an allowlisted fixture and later as app config is scanned under the path that is not skipped.
  const blobs: HistoryBlob[] = [];
  for (const b of history.blobs) {
    const place = [b, ...(b.others ?? [])].find((p) => scanner.unwanted(p.path) === undefined);
    if (place === undefined) scanner.skip(scanner.unwanted(b.path) ?? "allowlisted");
    else
      blobs.push({
        oid: b.oid,
        path: place.path,
        ...(place.commit === undefined ? {} : { commit: place.commit }),
      });
  }
  const byOid = new Map(blobs.map((b) => [b.oid, b]));
  for await (const object of catFileBatch([...byOid.keys()], { ...git, maxSize: scanner.maxSize })) {
    const blob = byOid.get(object.oid);
    if (blob === undefined) continue;
    if (object.type === "missing") {
      scanner.skip("missing");
      continue;
    }
    if (object.type !== "blob") continue;
    if (object.data === undefined) {
      scanner.skip("too-large");
      continue;
    }
    scanner.scan(blob.path, object.data, {
      blob: blob.oid,
      ...(blob.commit === undefined ? {} : { commit: blob.commit }),
    });
  }
  return scanner.finish("history", top, started);
}
