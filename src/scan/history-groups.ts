import { createHash, createHmac, randomBytes } from "node:crypto";
import { wipe } from "../secret/wipe.js";
import { INCOMPLETE_RULE } from "./detect.js";
import { exposeFindingMatch, type Finding, type Remediation } from "./finding.js";
import type { GitOptions } from "./git.js";
import {
  type CommitInfo,
  headCommit,
  listPathChanges,
  type PathChange,
  type Revisions,
  treeBlobs,
} from "./git-history.js";
import { findingPathBytes, findingPathFields } from "./path.js";

/*
 * A history scan reads each blob once and reports a finding per blob: an example value in every
 * version of a README is hundreds of findings of one leak. Here they are grouped: one leak per
 * value, and in it one place per path (or message kind), each saying which commit introduced
 * the value there, which removed it (or that HEAD still has it) and how many versions carried
 * it. The findings stay as they are; a leak names them by their index in `findings`.
 *
 * Values are grouped by an HMAC under a key made for this run and dropped after it: nothing
 * derived from a value leaves the process but what a finding already holds. A leak's id is the
 * finding id of its first occurrence (rule, path and value, as the baseline knows it).
 */

/** Who introduced or removed a value at a place, and when. */
export interface LeakCommit {
  commit: string;
  /** The author as git stores it: `Name <email>`. */
  author: string;
  /** The author date, ISO 8601. */
  date: string;
}

export interface LeakPlace {
  /** The path (as a finding's `path`), or "" for a message. */
  path: string;
  pathBase64?: string;
  /** The value is in commit (or tag) messages rather than a file. */
  message?: "commit" | "tag";
  /** The first commit (in git log's order) whose change put the value at this path, or whose message holds it. */
  introduced?: LeakCommit;
  /** The last commit whose change took the value out of this path (when HEAD no longer has it there). */
  removed?: LeakCommit;
  /** The commit before `removed` (its first parent): the last one that still had the value there. */
  lastPresent?: string;
  /** Whether HEAD's tree still has the value at this path. */
  inHead: boolean;
  /** How many versions (distinct blobs, or messages) carried the value here. */
  versions: number;
  /** Indices into the result's `findings`. */
  occurrences: number[];
  /** `--value-of` only: the refs whose history holds the introducing commit. */
  refs?: string[];
}

export interface Leak {
  /** The finding id of its first occurrence. */
  id: string;
  rule: string;
  title: string;
  masked: string;
  length: number;
  credentials?: Finding["credentials"];
  /** Where the value was, oldest introduction first; a value that moved between files has several. */
  places: LeakPlace[];
  /** Every finding of this leak (indices into `findings`). */
  occurrences: number[];
  remediation: Remediation;
}

/** The rows a leak is grouped from: one finding with its index. */
interface Row {
  index: number;
  finding: Finding;
}

function valueKey(finding: Finding, mac: (text: string) => string): string {
  // A note that a file was not fully read has no value: it stays alone, by its place.
  if (finding.rule === INCOMPLETE_RULE) return `incomplete\0${finding.id}`;
  // A stored value is known by the credentials it belongs to, whatever form it took.
  if (finding.credentials)
    return `owners\0${finding.credentials.map((o) => `${o.source}:${o.name}`).join(",")}`;
  const match = exposeFindingMatch(finding);
  return match === undefined ? `id\0${finding.id}` : `value\0${mac(match)}`;
}

/** Groups findings by value with a key that exists only for this call. */
function groupByValue(findings: readonly Finding[]): Row[][] {
  const key = randomBytes(32);
  const groups = new Map<string, Row[]>();
  try {
    const mac = (text: string) => createHmac("sha256", key).update(text, "utf8").digest("hex");
    findings.forEach((finding, index) => {
      const k = valueKey(finding, mac);
      const rows = groups.get(k);
      if (rows === undefined) groups.set(k, [{ index, finding }]);
      else rows.push({ index, finding });
    });
  } finally {
    wipe(key);
  }
  return [...groups.values()];
}

function leakCommit(info: CommitInfo | undefined): LeakCommit | undefined {
  return info === undefined ? undefined : { commit: info.commit, author: info.author, date: info.date };
}

/**
 * Builds the leaks of a history (or range) scan. `revisions` are the commits the scan read;
 * `git` the repository. One `git log` over those commits (keeping only changes that add or
 * replace a blob with findings) and one `ls-tree HEAD`.
 */
export async function groupLeaks(
  findings: readonly Finding[],
  git: GitOptions,
  revisions: Revisions,
): Promise<Leak[]> {
  if (findings.length === 0) return [];
  const groups = groupByValue(findings);
  const blobs = new Set<string>();
  const commits = new Set<string>();
  for (const f of findings) {
    if (f.blob) blobs.add(f.blob);
    if (f.message === "commit" && f.commit) commits.add(f.commit);
  }
  const [{ changes, commits: info }, head, headId] = await Promise.all([
    listPathChanges(git, revisions, { blobs, commits }),
    treeBlobs(git),
    headCommit(git),
  ]);
  const leaks = groups.map((rows) => buildLeak(rows, changes, info, head, headId));
  const first = (leak: Leak) =>
    Math.min(...leak.places.map((p) => (p.introduced ? (info.get(p.introduced.commit)?.order ?? 0) : -1)));
  return leaks.sort((a, b) => first(a) - first(b));
}

function buildLeak(
  rows: Row[],
  changes: readonly PathChange[],
  info: ReadonlyMap<string, CommitInfo>,
  head: ReadonlyMap<string, string>,
  headId: string | undefined,
): Leak {
  const places: LeakPlace[] = [];
  const byBlob = new Map<string, number[]>();
  for (const { index, finding } of rows) {
    if (finding.blob) byBlob.set(finding.blob, [...(byBlob.get(finding.blob) ?? []), index]);
  }
  // Files: every path a blob holding the value was put at, from the changes in order.
  const atPath = new Map<
    string,
    { path: Buffer; blobs: Set<string>; added: PathChange[]; removed: PathChange[] }
  >();
  for (const change of changes) {
    const adds = byBlob.has(change.after);
    const drops = byBlob.has(change.before) && !adds;
    if (!adds && !drops) continue;
    const key = change.path.toString("latin1");
    let place = atPath.get(key);
    if (place === undefined) {
      place = { path: change.path, blobs: new Set(), added: [], removed: [] };
      atPath.set(key, place);
    }
    if (adds) {
      place.blobs.add(change.after);
      if (!byBlob.has(change.before)) place.added.push(change);
    } else place.removed.push(change);
  }
  const placed = new Set<string>();
  for (const [key, p] of atPath) {
    if (p.added.length === 0) continue; // only removals seen: its introduction is outside the range
    const inHead = p.blobs.has(head.get(key) ?? "");
    const removal = inHead ? undefined : p.removed.at(-1);
    const removedInfo = removal === undefined ? undefined : info.get(removal.commit);
    // In the order the blobs came in: the first occurrence is the version that introduced it.
    const occurrences = [...new Set([...p.blobs].flatMap((b) => byBlob.get(b) ?? []))];
    for (const b of p.blobs) placed.add(b);
    places.push({
      ...findingPathFields(p.path),
      ...(p.added[0] ? { introduced: leakCommit(info.get(p.added[0].commit))! } : {}),
      ...(removedInfo ? { removed: leakCommit(removedInfo)! } : {}),
      ...(removedInfo?.parent ? { lastPresent: removedInfo.parent } : {}),
      ...(inHead && headId ? { lastPresent: headId } : {}),
      inHead,
      versions: p.blobs.size,
      occurrences,
    });
  }
  // Blobs no change put anywhere (reached through a tag of a tree or blob, or introduced before
  // the range), and messages: a place each, by the finding's own path or message kind.
  const rest = new Map<string, { rows: Row[]; message?: "commit" | "tag" }>();
  for (const row of rows) {
    const f = row.finding;
    if (f.blob && placed.has(f.blob)) continue;
    const key = f.message ? `\0${f.message}` : (f.pathBase64 ?? f.path);
    const entry = rest.get(key) ?? { rows: [], ...(f.message ? { message: f.message } : {}) };
    entry.rows.push(row);
    rest.set(key, entry);
  }
  for (const { rows: here, message } of rest.values()) {
    const f = here[0]!.finding;
    const ordered = here
      .map((r) => ({
        r,
        order: f.message === "commit" && r.finding.commit ? info.get(r.finding.commit)?.order : undefined,
      }))
      .sort((a, b) => (a.order ?? Number.MAX_SAFE_INTEGER) - (b.order ?? Number.MAX_SAFE_INTEGER));
    const firstCommit = message === "commit" ? ordered[0]?.r.finding.commit : undefined;
    const versions = new Set(here.map((r) => r.finding.blob ?? r.finding.commit ?? r.finding.tag ?? "")).size;
    const introduced = firstCommit === undefined ? undefined : leakCommit(info.get(firstCommit));
    const inHead =
      message === undefined &&
      here.some(
        (r) =>
          r.finding.blob !== undefined &&
          head.get(findingPathBytes(r.finding).toString("latin1")) === r.finding.blob,
      );
    places.push({
      path: f.path,
      ...(f.pathBase64 ? { pathBase64: f.pathBase64 } : {}),
      ...(message ? { message } : {}),
      ...(introduced ? { introduced } : {}),
      inHead,
      versions,
      occurrences: here.map((r) => r.index).sort((a, b) => a - b),
    });
  }
  const order = (p: LeakPlace) =>
    p.introduced
      ? (info.get(p.introduced.commit)?.order ?? Number.MAX_SAFE_INTEGER)
      : Number.MAX_SAFE_INTEGER;
  places.sort((a, b) => order(a) - order(b));
  const firstIndex = places[0]?.occurrences[0] ?? rows[0]!.index;
  const first = rows.find((r) => r.index === firstIndex)?.finding ?? rows[0]!.finding;
  return {
    id: first.id,
    rule: first.rule,
    title: first.title,
    masked: first.masked,
    length: first.length,
    ...(first.credentials ? { credentials: first.credentials } : {}),
    places,
    occurrences: rows.map((r) => r.index),
    remediation: first.remediation,
  };
}

/**
 * A GUID for SARIF's `correlationGuid`, the same for every result of one leak and stable across
 * runs: derived from the leak id (itself a finding id), never from the value.
 */
export function leakGuid(leakId: string): string {
  const h = createHash("sha256").update(`keyhold-scan-leak\0${leakId}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((Number.parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
