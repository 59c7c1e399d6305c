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
export const RAW_LOG: readonly string[] = [
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

export const LF = 0x0a;

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
export function splitZ(out: Buffer): Buffer[] {
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
