import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { accessSync, constants, lstatSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { SecretError } from "../secret/index.js";
import { systemTool } from "../systemd/index.js";

export interface GitOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Kills git (SIGKILL) when aborted: a bound on how long a caller waits for it. */
  signal?: AbortSignal;
}

/*
 * The repository under scan is untrusted input: its .git/config (or a tracked directory laid out
 * like a bare repository) can name programs that git runs on its own behalf. keyhold only reads,
 * so every git call turns those off:
 *
 *   core.fsmonitor=false           no file-system monitor hook (ls-files, diff --cached ran it)
 *   safe.bareRepository=explicit   a bare-repository-shaped directory is not taken as a repository
 *                                  unless GIT_DIR names it (a tracked "vendor/lib/{HEAD,config,…}")
 *   protocol.allow=never           no transport at all: a partial clone's lazy fetch cannot start
 *   core.sshCommand=false          …nor run the repository's ssh command if it somehow did
 *   core.commitGraph=false         a commit-graph file cannot say other parents or trees than the
 *                                  commits themselves do
 *   --no-replace-objects           replace refs (and, below, grafts) cannot hide history
 *   --no-optional-locks            no index refresh written back while scanning
 *
 * core.hooksPath is left alone: none of the commands below runs a hook, and `keyhold hook
 * install` asks git for the hooks directory through this same function.
 */
const HARDENING: readonly string[] = [
  "-c",
  "core.fsmonitor=false",
  "-c",
  "safe.bareRepository=explicit",
  "-c",
  "protocol.allow=never",
  "-c",
  "core.sshCommand=false",
  "-c",
  "core.commitGraph=false",
  "--no-replace-objects",
  "--no-optional-locks",
];

// How keyhold reads what each commit changed: oldest first, every blob id whole, no rename or
// copy guessing, no external diff or text conversion (the repository could name programs for
// either), and a merge against its first parent only.
const RAW_LOG: readonly string[] = [
  "--reverse",
  "--raw",
  "-z",
  "--no-abbrev",
  "--no-renames",
  "--no-ext-diff",
  "--no-textconv",
  "--diff-merges=first-parent",
];

// Variables from the caller that name programs for git to run, or re-allow transports. The
// repository-location variables (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, …) are kept: git sets
// them for a pre-commit hook on purpose (`git commit -a` scans a temporary index).
const PROGRAM_VARIABLES = [
  "GIT_EXEC_PATH",
  "GIT_SSH",
  "GIT_SSH_COMMAND",
  "GIT_PROXY_COMMAND",
  "GIT_ALLOW_PROTOCOL",
  "GIT_EXTERNAL_DIFF",
  "GIT_PAGER",
  "GIT_EDITOR",
  "GIT_SEQUENCE_EDITOR",
  "GIT_ASKPASS",
  "GIT_TEMPLATE_DIR",
];

function gitEnvironment(base: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  const env = { ...(base ?? process.env) };
  for (const name of PROGRAM_VARIABLES) delete env[name];
  env.GIT_NO_LAZY_FETCH = "1"; // git 2.44+; protocol.allow=never covers older versions
  env.GIT_NO_REPLACE_OBJECTS = "1";
  env.GIT_OPTIONAL_LOCKS = "0";
  env.GIT_TERMINAL_PROMPT = "0";
  // A graft file below /dev/null can never exist, so .git/info/grafts cannot hide commits.
  env.GIT_GRAFT_FILE = "/dev/null/keyhold-no-grafts";
  return env;
}

/**
 * The git to run: the system's own (/usr/bin, /bin, …), else the first absolute PATH entry that
 * has one. Empty and relative PATH entries are ignored: git runs with the scanned repository as
 * its working directory, where a committed `git` would otherwise be found first.
 */
function gitBinary(env: NodeJS.ProcessEnv): string {
  const system = systemTool("git");
  if (isAbsolute(system)) return system;
  for (const dir of (env.PATH ?? "").split(":")) {
    if (!isAbsolute(dir)) continue;
    try {
      accessSync(join(dir, "git"), constants.X_OK);
      return join(dir, "git");
    } catch {
      // not here
    }
  }
  throw new SecretError("GIT_FAILED", "git not found", {
    hint: "install git (keyhold looks in /usr/bin, /bin and the absolute entries of PATH)",
  });
}

/**
 * The work tree of a repository another user owns, when git would find it from `cwd`: root
 * scanning a developer's checkout (`sudo keyhold scan --history`), which git refuses ("dubious
 * ownership") unless safe.directory names it. keyhold already turns off what the repository's
 * configuration could run (HARDENING), so it names exactly this one work tree, and only when its
 * `.git` is a real directory (not a symlink, nor a `.git` file pointing elsewhere). Undefined for
 * one's own repository, outside any, or when the caller's environment already names the
 * repository (a hook's GIT_DIR).
 */
function otherUsersWorkTree(cwd: string, env: NodeJS.ProcessEnv): string | undefined {
  if (env.GIT_DIR !== undefined || env.GIT_WORK_TREE !== undefined || process.geteuid === undefined)
    return undefined;
  let dir: string;
  try {
    dir = realpathSync(cwd);
  } catch {
    return undefined;
  }
  for (;;) {
    const dotGit = lstatSync(join(dir, ".git"), { throwIfNoEntry: false });
    if (dotGit !== undefined)
      return dotGit.isDirectory() && dotGit.uid !== process.geteuid() ? dir : undefined;
    if (dir === "/") return undefined;
    dir = dirname(dir);
  }
}

/** Starts git with keyhold's hardening (see HARDENING) in front of `args`. */
function spawnGit(args: readonly string[], options: GitOptions): ChildProcessWithoutNullStreams {
  const env = gitEnvironment(options.env);
  const trusted: string[] = [];
  const other = otherUsersWorkTree(options.cwd, env);
  if (other !== undefined) {
    trusted.push("-c", `safe.directory=${other}`);
    // The repository's core.worktree would otherwise move the work tree, and the files keyhold
    // reads with root's rights, to any directory its owner names (GIT_WORK_TREE wins over it).
    env.GIT_WORK_TREE = other;
  }
  return spawn(gitBinary(env), [...HARDENING, ...trusted, ...args], {
    cwd: options.cwd,
    env,
    stdio: ["pipe", "pipe", "pipe"],
    ...(options.signal ? { signal: options.signal, killSignal: "SIGKILL" as const } : {}),
  });
}

function gitFailed(args: readonly string[], stderr: string, cause?: unknown): SecretError {
  const reason =
    stderr
      .trim()
      .split("\n")
      .at(-1)
      ?.replace(/^fatal: /, "") ?? "no reason given";
  if (/not a git repository/i.test(reason)) {
    return new SecretError("NOT_A_GIT_REPOSITORY", "not inside a git repository", {
      hint: "run it in a git work tree, or scan a directory without --staged/--history",
      cause,
    });
  }
  const dubious = /detected dubious ownership in repository at '(.*)'/.exec(stderr);
  if (dubious) {
    return new SecretError(
      "GIT_FAILED",
      `git refuses the repository at ${JSON.stringify(dubious[1]?.slice(0, 200))}: another user owns it`,
      {
        hint: "keyhold scans another user's repository when its .git is a directory of its own (not a link nor a .git file); otherwise scan it as its owner",
      },
    );
  }
  if (/cannot use bare repository/i.test(reason)) {
    return new SecretError("GIT_FAILED", `git ${args[0]} failed: ${reason}`, {
      hint: "a directory laid out like a bare repository is not scanned as one; scan from the repository top",
    });
  }
  return new SecretError(
    "GIT_FAILED",
    `git ${args[0]} failed: ${reason}`,
    cause === undefined ? {} : { cause },
  );
}

/** Runs git and returns its stdout; a non-zero exit becomes a GIT_FAILED (or NOT_A_GIT_REPOSITORY) error. */
export function gitOutput(
  args: readonly string[],
  options: GitOptions & { input?: string },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawnGit(args, options);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", (e) =>
      reject(
        (e as NodeJS.ErrnoException).code === "ENOENT"
          ? new SecretError("GIT_FAILED", "git not found", { hint: "install git", cause: e })
          : e,
      ),
    );
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(gitFailed(args, Buffer.concat(err).toString("utf8")));
    });
    child.stdin.on("error", () => {
      // git exited before reading its input; its exit status says why.
    });
    child.stdin.end(options.input);
  });
}

/** The top of the work tree containing `cwd`, or undefined outside a repository. */
export async function workTreeTop(options: GitOptions): Promise<string | undefined> {
  try {
    // Only the one newline git adds: a directory name may end in spaces.
    return (await gitOutput(["rev-parse", "--show-toplevel"], options)).toString("utf8").replace(/\n$/, "");
  } catch (err) {
    if (err instanceof SecretError && err.code === "NOT_A_GIT_REPOSITORY") return undefined;
    throw err;
  }
}

export interface GitObject {
  oid: string;
  /** The object type, or "missing" when the repository does not have it. */
  type: string;
  size: number;
  /** The content; absent for a missing object and for one larger than `maxSize`. */
  data?: Buffer;
}

const LF = 0x0a;

/**
 * Streams objects through one `git cat-file --batch` process: the object ids are written to its
 * stdin while its stdout is parsed, so memory holds one object at a time and no process is
 * started per object. An object larger than `maxSize` is read past without being held: its
 * size comes in the header, before any of its content.
 */
export async function* catFileBatch(
  oids: readonly string[],
  options: GitOptions & { maxSize?: number },
): AsyncGenerator<GitObject> {
  const maxSize = options.maxSize ?? Number.POSITIVE_INFINITY;
  const child = spawnGit(["cat-file", "--batch", "--buffer"], options);
  const stdin = child.stdin;
  const errChunks: Buffer[] = [];
  child.stderr.on("data", (c: Buffer) => errChunks.push(c));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  // A consumer that stops early never awaits it: its failure (an abort, a kill) is not news then.
  exited.catch(() => undefined);
  const writing = (async () => {
    const batch = 4096;
    for (let i = 0; i < oids.length; i += batch) {
      const ok = stdin.write(`${oids.slice(i, i + batch).join("\n")}\n`);
      if (!ok) await new Promise<void>((resolve) => stdin.once("drain", resolve));
    }
    stdin.end();
  })();
  writing.catch(() => {
    // A write error means git exited; its exit status reports the reason below.
  });

  let header: Buffer[] = [];
  // The object whose content is being read: `remaining` bytes to go, kept in `body` unless too large.
  let current: { oid: string; type: string; size: number; body?: Buffer } | undefined;
  let remaining = 0;
  let skipLf = false;
  let finished = false;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let at = 0;
      while (at < chunk.length) {
        if (skipLf) {
          skipLf = false;
          at++; // the LF that follows every object's content
          continue;
        }
        if (current !== undefined) {
          const take = Math.min(remaining, chunk.length - at);
          current.body?.set(chunk.subarray(at, at + take), current.size - remaining);
          remaining -= take;
          at += take;
          if (remaining === 0) {
            const { oid, type, size, body } = current;
            current = undefined;
            skipLf = true;
            yield body === undefined ? { oid, type, size } : { oid, type, size, data: body };
          }
          continue;
        }
        const nl = chunk.indexOf(LF, at);
        if (nl < 0) {
          header.push(chunk.subarray(at));
          break;
        }
        header.push(chunk.subarray(at, nl));
        at = nl + 1;
        const line = Buffer.concat(header).toString("latin1");
        header = [];
        const [oid, type, sizeField] = line.split(" ");
        if (oid === undefined || type === undefined || type === "ambiguous") continue;
        if (type === "missing") {
          yield { oid, type, size: 0 };
          continue;
        }
        const size = Number(sizeField);
        current = size > maxSize ? { oid, type, size } : { oid, type, size, body: Buffer.allocUnsafe(size) };
        remaining = size;
        if (size === 0) {
          current = undefined;
          skipLf = true;
          yield { oid, type, size, data: Buffer.alloc(0) };
        }
      }
    }
    finished = true;
  } finally {
    // A consumer that stops early (an error while scanning) must not leave git blocked on a full pipe.
    if (!finished) child.kill();
  }
  const code = await exited;
  if (code !== 0) throw gitFailed(["cat-file"], Buffer.concat(errChunks).toString("utf8"));
}

/** Each object's size from `git cat-file --batch-check` (no content read); missing objects are left out. */
export async function objectSizes(
  oids: readonly string[],
  options: GitOptions,
): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  if (oids.length === 0) return sizes;
  const out = await gitOutput(["cat-file", "--batch-check"], { ...options, input: `${oids.join("\n")}\n` });
  for (const line of out.toString("latin1").split("\n")) {
    const [oid, type, size] = line.split(" ");
    if (oid !== undefined && size !== undefined && type !== "missing") sizes.set(oid, Number(size));
  }
  return sizes;
}

/** NUL-separated fields as bytes: a path is not decoded (it need not be UTF-8). */
function splitZ(out: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < out.length) {
    const nul = out.indexOf(0, at);
    const end = nul < 0 ? out.length : nul;
    parts.push(out.subarray(at, end));
    at = end + 1;
  }
  return parts;
}

/** Files git would commit from `dir`: tracked plus untracked-but-not-ignored, relative to `dir`. */
export async function listWorkTreeFiles(options: GitOptions): Promise<Buffer[]> {
  return splitZ(await gitOutput(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], options));
}

export interface StagedBlob {
  oid: string;
  path: Buffer;
}

/** Blobs in the index that differ from HEAD (added, copied, modified, type-changed), paths relative to the top. */
export async function listStagedBlobs(options: GitOptions): Promise<StagedBlob[]> {
  const out = splitZ(
    await gitOutput(
      [
        "diff",
        "--cached",
        "--raw",
        "-z",
        "--no-abbrev",
        "--no-renames",
        "--no-ext-diff",
        "--no-textconv",
        "--diff-filter=ACMT",
      ],
      options,
    ),
  );
  const staged: StagedBlob[] = [];
  for (let i = 0; i + 1 < out.length; i += 2) {
    const meta = out[i]!.toString("latin1").split(" ");
    const newMode = meta[1];
    const oid = meta[3];
    // Only regular files and executables; submodules (160000) and symlinks (120000) hold no content.
    if (oid && (newMode === "100644" || newMode === "100755")) staged.push({ oid, path: out[i + 1]! });
  }
  return staged;
}

export interface HistoryBlob {
  oid: string;
  path: Buffer;
  /** The first commit (oldest in git log --reverse order) whose diff added this blob. */
  commit?: string;
  /** Later places the same content was added at (other paths), in history order. */
  others?: Array<{ path: Buffer; commit: string }>;
}

export interface HistoryObjects {
  blobs: HistoryBlob[];
  /**
   * Every commit (a bare id) and annotated tag (with its name) reachable from a ref, for their
   * messages, and every blob no commit's diff added (reached through a tag of a tree or of a
   * blob, with its path): `git cat-file` tells them apart by type.
   */
  others: Array<{ oid: string; name?: Buffer }>;
  /** Blobs the repository does not have (a partial clone): they cannot be scanned. */
  missing: number;
}

const SOH = 0x01;

/**
 * Which commits a history scan reads: every ref, or the commits `include` reaches and `exclude`
 * does not (a range, a push). Both hold object ids only, resolved beforehand, and reach git on
 * its standard input (`--stdin`), never as arguments: nothing a repository or a caller names
 * can be taken for an option there.
 */
export type Revisions = "all" | { include: readonly string[]; exclude: readonly string[] };

export const ALL_REFS: Revisions = "all";

const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

function revisionArguments(revisions: Revisions): { args: string[]; input?: string } {
  if (revisions === "all") return { args: ["--all"] };
  const lines = [...revisions.include, ...revisions.exclude.map((oid) => `^${oid}`)];
  for (const oid of [...revisions.include, ...revisions.exclude]) {
    if (!OBJECT_ID.test(oid)) throw new SecretError("USAGE", "a revision must be an object id here");
  }
  return { args: ["--stdin"], input: `${lines.join("\n")}\n` };
}

/**
 * Every object reachable from every ref (or only what `revisions` adds, see Revisions) that can
 * hold a key: each blob once, with a path and the first commit that introduced it, and every
 * commit and annotated tag (for their messages).
 * `rev-list --objects --all` gives the complete set: commits as a bare id, blobs with their path
 * and annotated tags (nested ones too) with their name. `log --raw` over all refs, oldest first,
 * with merges diffed against their first parent, gives the commit where each blob first
 * appeared. Blobs larger than `maxSize` are left out by git itself. `--missing=print` lists the
 * blobs a partial clone lacks (as "?oid") instead of fetching them.
 */
export async function listHistoryObjects(
  options: GitOptions,
  maxSize: number,
  revisions: Revisions = ALL_REFS,
): Promise<HistoryObjects> {
  // `git log --stdin` given no revision reads HEAD: a range that reaches nothing reads nothing.
  if (revisions !== "all" && revisions.include.length === 0) return { blobs: [], others: [], missing: 0 };
  const revs = revisionArguments(revisions);
  const [objects, log] = await Promise.all([
    gitOutput(
      [
        "rev-list",
        "--objects",
        ...revs.args,
        "--missing=print",
        "--filter=object:type=blob",
        `--filter=blob:limit=${maxSize + 1}`,
      ],
      { ...options, input: revs.input },
    ),
    gitOutput(
      [
        "log",
        ...revs.args,
        ...RAW_LOG,
        "--diff-filter=ACMT",
        "--format=%x01%H",
      ],
      { ...options, input: revs.input },
    ),
  ]);
  // Every commit, for its message. `rev-list --objects` does not give them: with
  // --filter=object:type=blob it prints only the commits the refs name (git 2.39), and the log
  // above leaves out commits with no change (--diff-filter), so a key in the message of an older
  // commit was never read.
  const commits = new Set(
    (await gitOutput(["rev-list", ...revs.args], { ...options, input: revs.input }))
      .toString("latin1")
      .split("\n")
      .filter((line) => OBJECT_ID.test(line)),
  );
  const introduced = new Map<string, Array<{ commit: string; path: Buffer }>>();
  let commit = "";
  const fields = splitZ(log);
  for (let i = 0; i < fields.length; i++) {
    // Records are "\x01<commit>" then raw entries ":<modes> <oids> <status>" "<path>"; git puts a
    // newline before the first raw entry of each commit.
    let field = fields[i]!;
    while (field[0] === LF) field = field.subarray(1);
    if (field[0] === SOH) {
      commit = /^[0-9a-f]*/.exec(field.subarray(1).toString("latin1"))![0];
      continue;
    }
    if (field[0] !== 0x3a) continue; // ':'
    const oid = field.toString("latin1").split(" ")[3];
    const path = fields[++i];
    if (oid && path !== undefined) {
      const places = introduced.get(oid);
      if (places === undefined) introduced.set(oid, [{ commit, path }]);
      else if (!places.some((p) => p.path.equals(path))) places.push({ commit, path });
    }
  }
  const blobs: HistoryBlob[] = [];
  const others: HistoryObjects["others"] = [];
  let missing = 0;
  let at = 0;
  while (at < objects.length) {
    const nl = objects.indexOf(LF, at);
    const line = objects.subarray(at, nl < 0 ? objects.length : nl);
    at = nl < 0 ? objects.length : nl + 1;
    if (line.length === 0) continue;
    if (line[0] === 0x3f) {
      // '?': missing
      missing++;
      continue;
    }
    const space = line.indexOf(0x20);
    const oid = line.subarray(0, space < 0 ? line.length : space).toString("latin1");
    const [first, ...rest] = introduced.get(oid) ?? [];
    if (first)
      blobs.push({ oid, path: first.path, commit: first.commit, ...(rest.length ? { others: rest } : {}) });
    else if (space < 0) {
      if (!commits.has(oid)) others.push({ oid });
    } else others.push({ oid, name: line.subarray(space + 1) });
  }
  for (const c of commits) others.push({ oid: c });
  return { blobs, others, missing };
}

const HEADER_END = Buffer.from("\n\n");

/**
 * The message of a raw commit or tag object: what follows the first empty line (the headers,
 * signature continuation lines included, come before it). Empty when there is none.
 */
export function objectMessage(object: Buffer): Buffer {
  const end = object.indexOf(HEADER_END);
  return end < 0 ? Buffer.alloc(0) : object.subarray(end + 2);
}

/** Whether the repository is a shallow clone (its history stops at grafted commits). */
export async function isShallowRepository(options: GitOptions): Promise<boolean> {
  const out = await gitOutput(["rev-parse", "--is-shallow-repository"], options);
  return out.toString("utf8").trim() === "true";
}

/**
 * The commit `rev` names (`main`, `origin/main~3`, an id), or a USAGE error when there is none.
 * `--end-of-options` keeps a name git would read as an option from being one; callers check the
 * syntax before (see `parseRange` in scanner.ts).
 */
export async function resolveCommit(rev: string, options: GitOptions): Promise<string> {
  try {
    const out = await gitOutput(["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`], options);
    const oid = out.toString("latin1").trim();
    if (OBJECT_ID.test(oid)) return oid;
  } catch (err) {
    if (err instanceof SecretError && err.code === "NOT_A_GIT_REPOSITORY") throw err;
  }
  throw new SecretError("USAGE", `no such commit: ${JSON.stringify(rev.slice(0, 200))}`, {
    hint: "name a branch, tag or commit id the repository has (in CI, fetch enough history first)",
  });
}

/** The object id every ref points at (branches, tags, remotes, notes, …), each once. */
export async function refTips(options: GitOptions): Promise<string[]> {
  const out = await gitOutput(["for-each-ref", "--format=%(objectname)"], options);
  return [...new Set(out.toString("latin1").split("\n").filter((l) => OBJECT_ID.test(l)))];
}

/**
 * The commits of every ref committed since `date` (an ISO 8601 date, checked by the caller), as
 * revisions: those commits, minus their parents from before the date, so only what they added
 * is read.
 */
export async function revisionsSince(date: string, options: GitOptions): Promise<Revisions> {
  const out = await gitOutput(["rev-list", "--all", "--parents", `--since=${date}`], options);
  const include = new Set<string>();
  const parents = new Set<string>();
  for (const line of out.toString("latin1").split("\n")) {
    const [commit, ...ps] = line.split(" ");
    if (commit === undefined || !OBJECT_ID.test(commit)) continue;
    include.add(commit);
    for (const p of ps) parents.add(p);
  }
  return { include: [...include], exclude: [...parents].filter((p) => !include.has(p)) };
}

/** Who made a commit and when (author name and email as git stores them, ISO 8601 date). */
export interface CommitInfo {
  commit: string;
  author: string;
  date: string;
  /** Its first parent; none for a root commit. */
  parent?: string;
  /** Its index in log order (oldest first) within the revisions read. */
  order?: number;
}

/** One change a commit's diff (against its first parent) makes to a path. */
export interface PathChange {
  /** Index of the commit in log order (oldest first). */
  order: number;
  commit: string;
  path: Buffer;
  /** The blob before (all zeros when the path was added) and after (all zeros when deleted). */
  before: string;
  after: string;
}

/**
 * Every change the commits of `revisions` make that adds or replaces one of `wanted.blobs` at a
 * path, oldest first, and who made those commits and the commits in `wanted.commits`. Used
 * after a scan, for the few blobs and messages that had findings.
 */
export async function listPathChanges(
  options: GitOptions,
  revisions: Revisions,
  wanted: { blobs: ReadonlySet<string>; commits: ReadonlySet<string> },
): Promise<{ changes: PathChange[]; commits: Map<string, CommitInfo> }> {
  const changes: PathChange[] = [];
  const commits = new Map<string, CommitInfo>();
  if (revisions !== "all" && revisions.include.length === 0) return { changes, commits };
  const revs = revisionArguments(revisions);
  const log = await gitOutput(
    [
      "log",
      ...revs.args,
      ...RAW_LOG,
      "--format=%x01%H%x00%P%x00%an <%ae>%x00%aI",
    ],
    { ...options, input: revs.input },
  );
  const fields = splitZ(log);
  let current: CommitInfo | undefined;
  let order = -1;
  for (let i = 0; i < fields.length; i++) {
    let field = fields[i]!;
    while (field[0] === LF) field = field.subarray(1);
    if (field[0] === SOH) {
      // "\x01<commit>" "<parents>" "<author>" "<date>": taken by position, so an author name
      // holding \x01 or ':' cannot start a record of its own.
      const commit = field.subarray(1, 41).toString("latin1");
      const parent = fields[i + 1]?.toString("latin1").split(" ")[0];
      current = {
        commit,
        author: fields[i + 2]?.toString("utf8") ?? "",
        date: fields[i + 3]?.toString("latin1") ?? "",
        ...(parent ? { parent } : {}),
      };
      order++;
      i += 3;
      if (wanted.commits.has(commit)) commits.set(commit, { ...current, order });
      continue;
    }
    if (field[0] !== 0x3a || current === undefined) continue; // ':'
    const meta = field.toString("latin1").split(" ");
    const path = fields[++i];
    const before = meta[2] ?? "";
    const after = meta[3] ?? "";
    if (path === undefined || !(wanted.blobs.has(before) || wanted.blobs.has(after))) continue;
    changes.push({ order, commit: current.commit, path, before, after });
    commits.set(current.commit, { ...current, order });
  }
  return { changes, commits };
}

/** The blob at each path of a commit's tree (`HEAD` by default), keyed by the path's bytes as latin1. */
export async function treeBlobs(options: GitOptions, commit = "HEAD"): Promise<Map<string, string>> {
  const blobs = new Map<string, string>();
  let out: Buffer;
  try {
    out = await gitOutput(["ls-tree", "-r", "-z", "--full-tree", "--end-of-options", commit], options);
  } catch (err) {
    // An empty repository (HEAD names no commit yet) has no tree.
    if (err instanceof SecretError && err.code === "GIT_FAILED") return blobs;
    throw err;
  }
  for (const entry of splitZ(out)) {
    const tab = entry.indexOf(0x09);
    if (tab < 0) continue;
    const [, type, oid] = entry.subarray(0, tab).toString("latin1").split(" ");
    if (type === "blob" && oid) blobs.set(entry.subarray(tab + 1).toString("latin1"), oid);
  }
  return blobs;
}

/** The commit HEAD names, or undefined (an empty repository). */
export async function headCommit(options: GitOptions): Promise<string | undefined> {
  try {
    return (await gitOutput(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], options)).toString("latin1").trim();
  } catch {
    return undefined;
  }
}

/** The refs whose history holds `commit` (`refs/heads/main`, `refs/tags/v1`, …). */
export async function refsContaining(commit: string, options: GitOptions): Promise<Buffer[]> {
  if (!OBJECT_ID.test(commit)) throw new SecretError("USAGE", "a revision must be an object id here");
  const out = await gitOutput(["for-each-ref", "--format=%(refname)", `--contains=${commit}`], options);
  return out.length === 0 ? [] : splitLines(out);
}

function splitLines(out: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let at = 0;
  while (at < out.length) {
    const nl = out.indexOf(LF, at);
    const end = nl < 0 ? out.length : nl;
    if (end > at) lines.push(out.subarray(at, end));
    at = end + 1;
  }
  return lines;
}
