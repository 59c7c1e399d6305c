import { spawn } from "node:child_process";
import { SecretError } from "../secret/index.js";

export interface GitOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
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
  return new SecretError(
    "GIT_FAILED",
    `git ${args[0]} failed: ${reason}`,
    cause === undefined ? {} : { cause },
  );
}

/** Runs git and returns its stdout; a non-zero exit becomes a GIT_FAILED (or NOT_A_GIT_REPOSITORY) error. */
export function gitOutput(args: readonly string[], options: GitOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
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
  });
}

/** The top of the work tree containing `cwd`, or undefined outside a repository. */
export async function workTreeTop(options: GitOptions): Promise<string | undefined> {
  try {
    return (await gitOutput(["rev-parse", "--show-toplevel"], options)).toString("utf8").trim();
  } catch (err) {
    if (err instanceof SecretError && err.code === "NOT_A_GIT_REPOSITORY") return undefined;
    throw err;
  }
}

export interface GitObject {
  oid: string;
  type: string;
  data: Buffer;
}

const LF = 0x0a;

/**
 * Streams objects through one `git cat-file --batch` process: the object ids are written to its
 * stdin while its stdout is parsed, so memory holds one object at a time and no process is
 * started per object. Missing objects are skipped.
 */
export async function* catFileBatch(oids: readonly string[], options: GitOptions): AsyncGenerator<GitObject> {
  const child = spawn("git", ["cat-file", "--batch", "--buffer"], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const errChunks: Buffer[] = [];
  child.stderr.on("data", (c: Buffer) => errChunks.push(c));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  const writing = (async () => {
    const batch = 4096;
    for (let i = 0; i < oids.length; i += batch) {
      const ok = child.stdin.write(`${oids.slice(i, i + batch).join("\n")}\n`);
      if (!ok) await new Promise<void>((resolve) => child.stdin.once("drain", resolve));
    }
    child.stdin.end();
  })();
  writing.catch(() => {
    // A write error means git exited; its exit status reports the reason below.
  });

  let header: Buffer[] = [];
  let body: Buffer | undefined;
  let filled = 0;
  let current: { oid: string; type: string } | undefined;
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
        if (body !== undefined && current !== undefined) {
          const take = Math.min(body.length - filled, chunk.length - at);
          chunk.copy(body, filled, at, at + take);
          filled += take;
          at += take;
          if (filled === body.length) {
            yield { oid: current.oid, type: current.type, data: body };
            body = undefined;
            current = undefined;
            skipLf = true;
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
        const [oid, type, size] = line.split(" ");
        if (type === "missing" || type === "ambiguous" || oid === undefined || type === undefined) continue;
        current = { oid, type };
        body = Buffer.allocUnsafe(Number(size));
        filled = 0;
        if (body.length === 0) {
          yield { oid, type, data: body };
          body = undefined;
          current = undefined;
          skipLf = true;
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

function splitZ(out: Buffer): string[] {
  const parts = out.toString("utf8").split("\0");
  if (parts.at(-1) === "") parts.pop();
  return parts;
}

/** Files git would commit from `dir`: tracked plus untracked-but-not-ignored, relative to `dir`. */
export async function listWorkTreeFiles(options: GitOptions): Promise<string[]> {
  return splitZ(await gitOutput(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], options));
}

export interface StagedBlob {
  oid: string;
  path: string;
}

/** Blobs in the index that differ from HEAD (added, copied, modified, type-changed), paths relative to the top. */
export async function listStagedBlobs(options: GitOptions): Promise<StagedBlob[]> {
  const out = splitZ(
    await gitOutput(
      ["diff", "--cached", "--raw", "-z", "--no-abbrev", "--no-renames", "--diff-filter=ACMT"],
      options,
    ),
  );
  const staged: StagedBlob[] = [];
  for (let i = 0; i + 1 < out.length; i += 2) {
    const meta = out[i]!.split(" ");
    const newMode = meta[1];
    const oid = meta[3];
    // Only regular files and executables; submodules (160000) and symlinks (120000) hold no content.
    if (oid && (newMode === "100644" || newMode === "100755")) staged.push({ oid, path: out[i + 1]! });
  }
  return staged;
}

export interface HistoryBlob {
  oid: string;
  path: string;
  /** The first commit (oldest in git log --reverse order) whose diff added this blob. */
  commit?: string;
}

/**
 * Every blob reachable from every ref, once each, with a path and the first commit that
 * introduced it. `rev-list --objects --all` gives the complete set (and a path); `log --raw`
 * over all refs, oldest first, with merges diffed against their first parent, gives the commit
 * where each blob first appeared. Blobs larger than `maxSize` are left out by git itself.
 */
export async function listHistoryBlobs(options: GitOptions, maxSize: number): Promise<HistoryBlob[]> {
  const [objects, log] = await Promise.all([
    gitOutput(
      ["rev-list", "--objects", "--all", "--filter=object:type=blob", `--filter=blob:limit=${maxSize + 1}`],
      options,
    ),
    gitOutput(
      [
        "log",
        "--all",
        "--reverse",
        "--raw",
        "-z",
        "--no-abbrev",
        "--no-renames",
        "--diff-merges=first-parent",
        "--diff-filter=ACMT",
        "--format=%x01%H",
      ],
      options,
    ),
  ]);
  const introduced = new Map<string, { commit: string; path: string }>();
  let commit = "";
  const fields = splitZ(log);
  for (let i = 0; i < fields.length; i++) {
    // Records are "\x01<commit>" then raw entries ":<modes> <oids> <status>" "<path>"; git puts a
    // newline before the first raw entry of each commit.
    const field = fields[i]!.replace(/^\n+/, "");
    if (field.startsWith("\x01")) {
      commit = field.slice(1, 41);
      continue;
    }
    if (!field.startsWith(":")) continue;
    const meta = field.split(" ");
    const oid = meta[3];
    const path = fields[++i];
    if (oid && path !== undefined && !introduced.has(oid)) introduced.set(oid, { commit, path });
  }
  const blobs: HistoryBlob[] = [];
  for (const line of objects.toString("utf8").split("\n")) {
    if (line.length === 0) continue;
    const space = line.indexOf(" ");
    const oid = space < 0 ? line : line.slice(0, space);
    const first = introduced.get(oid);
    if (first) blobs.push({ oid, path: first.path, commit: first.commit });
    else if (space >= 0) blobs.push({ oid, path: line.slice(space + 1) });
    // An object without a path and without a diff entry is a commit (rev-list lists them): skip it.
  }
  return blobs;
}
