import { SecretError } from "../secret/index.js";
import { type GitOptions, gitOutput, LF, RAW_LOG, splitZ } from "./git.js";

/*
 * Reading a repository's history for the scanner: every object reachable from refs (or from a
 * range's commits), where each blob entered, what each commit changed at each path, and the
 * commits, trees and refs a leak's report names. Every git call goes through git.ts's hardened
 * runner.
 */

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
    gitOutput(["log", ...revs.args, ...RAW_LOG, "--diff-filter=ACMT", "--format=%x01%H"], {
      ...options,
      input: revs.input,
    }),
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
    const out = await gitOutput(
      ["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`],
      options,
    );
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
  return [
    ...new Set(
      out
        .toString("latin1")
        .split("\n")
        .filter((l) => OBJECT_ID.test(l)),
    ),
  ];
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
    ["log", ...revs.args, ...RAW_LOG, "--format=%x01%H%x00%P%x00%an <%ae>%x00%aI"],
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
    return (await gitOutput(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], options))
      .toString("latin1")
      .trim();
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
