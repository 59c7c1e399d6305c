import { SecretError } from "../secret/index.js";
import { catFileBatch, type GitOptions, gitOutput } from "./git.js";
import {
  ALL_REFS,
  isShallowRepository,
  listHistoryObjects,
  objectMessage,
  refTips,
  resolveCommit,
  type Revisions,
  revisionsSince,
} from "./git-history.js";
import { groupLeaks } from "./history-groups.js";
import { requireTop, type ScanOptions, type ScanResult, Scanner } from "./scanner.js";

/*
 * Scanning history: every ref (--history), a range of commits (--range, --since) or what a push
 * brings (the pre-receive hook), each object read once through one `git cat-file --batch`, the
 * findings grouped into leaks.
 */

/**
 * Scans every blob reachable from every ref, each read once through one `git cat-file --batch`
 * process, and names the first commit that introduced it; and the message of every commit and
 * annotated tag reachable from a ref, through the same process. The findings are then grouped
 * into leaks (one per value, with a place per path: see history-groups.ts).
 */
export async function scanHistory(dir: string, options: ScanOptions = {}): Promise<ScanResult> {
  const started = performance.now();
  const top = await requireTop(dir, options.env);
  return scanRevisions({ cwd: top, env: options.env }, top, ALL_REFS, "history", options, started);
}

/** A range's two ends as written: `BASE..HEAD`. */
export interface RangeSpec {
  base: string;
  head: string;
}

// One end of a range: a ref name or object id (never starting with '-', '.' or '/'), then any
// of ~N, ^N and @{u}/@{upstream}/@{push}; or `@` (HEAD) with the same suffixes. Nothing else
// of git's revision syntax (:path, ^{…}, @{date}, :/text) is taken: the argument reaches git.
const REV_END = /^(?:[A-Za-z0-9_][A-Za-z0-9_./-]*|@)(?:[~^][0-9]{0,6}|@\{(?:u|upstream|push)\})*$/;

/** Parses `--range BASE..HEAD`, refusing anything but that revision syntax (USAGE). */
export function parseRange(text: string): RangeSpec {
  const parts = text.split("..");
  const [base, head] = parts;
  if (
    parts.length !== 2 ||
    base === undefined ||
    head === undefined ||
    !REV_END.test(base) ||
    !REV_END.test(head) ||
    [base, head].some((end) => /\/\/|\/\.|\.\/|[./]$/.test(end))
  ) {
    throw new SecretError(
      "USAGE",
      `--range must be BASE..HEAD (two revisions), not ${JSON.stringify(text.slice(0, 200))}`,
      {
        hint: "e.g. --range origin/main..HEAD, or --range <commit id>..<commit id>",
      },
    );
  }
  return { base, head };
}

/** Parses `--since DATE`: an ISO 8601 date, or date and time (USAGE otherwise). */
export function parseSince(text: string): string {
  const iso = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
  if (!iso.test(text) || Number.isNaN(Date.parse(text.replace(" ", "T")))) {
    throw new SecretError(
      "USAGE",
      `--since must be an ISO 8601 date, not ${JSON.stringify(text.slice(0, 200))}`,
      {
        hint: "e.g. --since 2024-05-01 or --since 2024-05-01T12:00:00Z",
      },
    );
  }
  return text.replace(" ", "T");
}

/**
 * Scans only what the commits of a range added: the blobs reachable from HEAD and not from BASE
 * (`git rev-list --objects HEAD ^BASE`: for a merge-request pipeline, a pre-push hook) and those
 * commits' messages. Both ends are resolved to commit ids first.
 */
export async function scanRange(
  dir: string,
  range: RangeSpec,
  options: ScanOptions = {},
): Promise<ScanResult> {
  const started = performance.now();
  const top = await requireTop(dir, options.env);
  const git = { cwd: top, env: options.env };
  const [base, head] = await Promise.all([resolveCommit(range.base, git), resolveCommit(range.head, git)]);
  return scanRevisions(git, top, { include: [head], exclude: [base] }, "range", options, started);
}

/** Scans what the commits of every ref made since `date` (parseSince) added. */
export async function scanSince(dir: string, date: string, options: ScanOptions = {}): Promise<ScanResult> {
  const started = performance.now();
  const top = await requireTop(dir, options.env);
  const git = { cwd: top, env: options.env };
  return scanRevisions(git, top, await revisionsSince(date, git), "range", options, started);
}

/** One line git hands a pre-receive hook: `<old> <new> <ref>`. */
export interface RefUpdate {
  old: string;
  new: string;
  ref: string;
}

const UPDATE_LINE = /^([0-9a-f]{40}|[0-9a-f]{64}) ([0-9a-f]{40}|[0-9a-f]{64}) (.+)$/;
const ZERO_ID = /^0+$/;

/** Parses a pre-receive hook's standard input; a line of any other shape is refused (USAGE). */
export function parseRefUpdates(input: Buffer): RefUpdate[] {
  const updates: RefUpdate[] = [];
  for (const line of input.toString("latin1").split("\n")) {
    if (line === "") continue;
    const m = UPDATE_LINE.exec(line);
    if (m === null) throw new SecretError("USAGE", "pre-receive input must be '<old> <new> <ref>' lines");
    updates.push({ old: m[1]!, new: m[2]!, ref: m[3]! });
  }
  return updates;
}

/**
 * Scans what a push adds, from inside git's pre-receive hook (`GIT_DIR` and the quarantine
 * object directory are set by git and kept): for every created or updated ref, the objects its
 * new value reaches that no existing ref reaches (`rev-list --objects NEW… --not <every ref>`),
 * so a new branch is read from where it leaves the known history and a deleted ref reads
 * nothing. `root` is the repository (the hook's working directory).
 */
export async function scanPush(
  root: string,
  updates: readonly RefUpdate[],
  options: ScanOptions = {},
): Promise<ScanResult> {
  const started = performance.now();
  const git = { cwd: root, env: options.env };
  const include = [...new Set(updates.filter((u) => !ZERO_ID.test(u.new)).map((u) => u.new))];
  const exclude = include.length === 0 ? [] : await refTips(git);
  return scanRevisions(git, root, { include, exclude }, "push", options, started);
}

/** The content of a file in a commit's tree (`HEAD:.keyhold-scan.json`), or undefined when it has none. */
export async function readCommittedFile(
  git: GitOptions,
  path: string,
  maxBytes: number,
): Promise<Buffer | undefined> {
  const spec = `HEAD:${path}`;
  let size: number;
  try {
    size = Number(
      (await gitOutput(["cat-file", "-s", "--end-of-options", spec], git)).toString("latin1").trim(),
    );
  } catch {
    return undefined;
  }
  if (!(size <= maxBytes)) throw new SecretError("TOO_LARGE", `${spec} is over ${maxBytes} bytes`);
  return gitOutput(["cat-file", "blob", "--end-of-options", spec], git);
}

async function scanRevisions(
  git: GitOptions,
  root: string,
  revisions: Revisions,
  mode: "history" | "range" | "push",
  options: ScanOptions,
  started: number,
): Promise<ScanResult> {
  const scanner = new Scanner(options);
  const history = await listHistoryObjects(git, scanner.maxSize, revisions);
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
  const blobs = new Map<string, { path: Buffer; commit?: string }>();
  for (const b of history.blobs) {
    const place = [b, ...(b.others ?? [])].find((p) => scanner.unwanted(p.path) === undefined);
    if (place === undefined) scanner.skip(scanner.unwanted(b.path) ?? "allowlisted");
    else
      blobs.set(
        b.oid,
        place.commit === undefined ? { path: place.path } : { path: place.path, commit: place.commit },
      );
  }
  // Commits, annotated tags, and blobs only a tag reaches: what they are comes with their content.
  const others = new Map(history.others.map((o) => [o.oid, o.name]));
  const oids = [...blobs.keys(), ...others.keys()];
  for await (const object of catFileBatch(oids, { ...git, maxSize: scanner.maxSize })) {
    if (object.type === "missing") {
      scanner.skip("missing");
      continue;
    }
    if (object.data === undefined) {
      if (object.type === "blob" || object.type === "commit" || object.type === "tag")
        scanner.skip("too-large");
      continue;
    }
    const blob = blobs.get(object.oid);
    if (object.type === "blob") {
      if (blob !== undefined) {
        scanner.scan(blob.path, object.data, {
          blob: object.oid,
          ...(blob.commit === undefined ? {} : { commit: blob.commit }),
        });
        continue;
      }
      const name = others.get(object.oid);
      if (name !== undefined && scanner.wants(name)) scanner.scan(name, object.data, { blob: object.oid });
    } else if (object.type === "commit") {
      scanner.scanMessage(objectMessage(object.data), { message: "commit", commit: object.oid });
    } else if (object.type === "tag") {
      scanner.scanMessage(objectMessage(object.data), { message: "tag", tag: object.oid });
    }
  }
  const result = scanner.finish(mode, root, started);
  result.leaks = await groupLeaks(result.findings, git, revisions);
  result.stats.seconds = (performance.now() - started) / 1000;
  return result;
}
