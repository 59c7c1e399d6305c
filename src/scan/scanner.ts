import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { SecretError } from "../secret/index.js";
import { detect } from "./detect.js";
import { type Finding, toFinding } from "./finding.js";
import type { KnownValueSet } from "./fingerprint-index.js";
import { catFileBatch, listHistoryBlobs, listStagedBlobs, listWorkTreeFiles, workTreeTop } from "./git.js";
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
  readonly stats: ScanStats = { scanned: 0, bytes: 0, skipped: {}, accepted: 0, seconds: 0 };
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

  #skip(reason: SkipReason | "allowlisted"): void {
    this.stats.skipped[reason] = (this.stats.skipped[reason] ?? 0) + 1;
  }

  /** Whether a path is worth reading at all (allowlist, lock files, binary extensions). */
  wants(path: string): boolean {
    if (this.#policy.pathAllowed(path)) {
      this.#skip("allowlisted");
      return false;
    }
    const reason = skipByName(path);
    if (reason) {
      this.#skip(reason);
      return false;
    }
    return true;
  }

  /** Scans one file's content; findings go to `findings` unless the baseline accepts them. */
  scan(path: string, bytes: Buffer, where: { commit?: string; blob?: string } = {}): void {
    if (bytes.length > this.#maxSize) {
      this.#skip("too-large");
      return;
    }
    const reason = skipByContent(path, bytes);
    if (reason) {
      this.#skip(reason);
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

/** Reads a regular file without following a symlink; undefined for anything else or if it vanished. */
function readRegularFile(path: string, maxSize: number): Buffer | "too-large" | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    if (st.size > maxSize) return "too-large";
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === st.size ? buf : buf.subarray(0, off);
  } finally {
    closeSync(fd);
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
  for (const rel of files) {
    const path = prefix === "" ? rel : `${prefix}/${rel}`;
    if (!scanner.wants(path)) continue;
    const bytes = readRegularFile(join(absolute, rel), scanner.maxSize);
    if (bytes === undefined) continue;
    if (bytes === "too-large") {
      scanner.stats.skipped["too-large"] = (scanner.stats.skipped["too-large"] ?? 0) + 1;
      continue;
    }
    scanner.scan(path, bytes);
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
  for await (const object of catFileBatch([...pathsByOid.keys()], git)) {
    for (const path of pathsByOid.get(object.oid) ?? [])
      scanner.scan(path, object.data, { blob: object.oid });
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
  const blobs = (await listHistoryBlobs(git, scanner.maxSize)).filter((b) => scanner.wants(b.path));
  const byOid = new Map(blobs.map((b) => [b.oid, b]));
  for await (const object of catFileBatch([...byOid.keys()], git)) {
    const blob = byOid.get(object.oid);
    if (blob === undefined || object.type !== "blob") continue;
    scanner.scan(blob.path, object.data, {
      blob: blob.oid,
      ...(blob.commit === undefined ? {} : { commit: blob.commit }),
    });
  }
  return scanner.finish("history", top, started);
}
