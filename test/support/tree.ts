import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join, relative } from "node:path";

/**
 * Every entry under `root` (the root itself included) as "type mode uid:gid sha256/target",
 * keyed by relative path: two equal snapshots mean nothing was created, removed, renamed,
 * rewritten, chmod-ed or chown-ed.
 */
export function snapshotTree(
  root: string,
  skip: (rel: string) => boolean = () => false,
): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (path: string): void => {
    const rel = relative(root, path) || ".";
    if (skip(rel)) return;
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(path);
    } catch {
      return; // vanished between readdir and lstat
    }
    const head = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (st.isSymbolicLink()) out.set(rel, `link ${head} -> ${readlinkSync(path)}`);
    else if (st.isDirectory()) {
      out.set(rel, `dir ${head}`);
      for (const entry of readdirSync(path).sort()) visit(join(path, entry));
    } else if (st.isFile()) {
      out.set(
        rel,
        `file ${head} ${st.size} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`,
      );
    } else out.set(rel, `other ${head}`);
  };
  visit(root);
  return out;
}

/** Human-readable differences between two snapshots (empty when equal). */
export function diffSnapshots(before: Map<string, string>, after: Map<string, string>): string[] {
  const diffs: string[] = [];
  for (const [k, v] of before) {
    const w = after.get(k);
    if (w === undefined) diffs.push(`removed ${k} (${v})`);
    else if (w !== v) diffs.push(`changed ${k}: ${v} => ${w}`);
  }
  for (const [k, v] of after) if (!before.has(k)) diffs.push(`added ${k} (${v})`);
  return diffs;
}

export interface GrepHit {
  path: string;
  needle: string;
}

/**
 * Byte search for each needle in every regular file under `roots` (not following symlinks,
 * not crossing into /proc or /sys). With `modifiedSince`, only files changed since then are
 * read, so a sweep of a shared /tmp stays cheap. Unreadable entries are skipped.
 */
export function grepTree(
  roots: readonly string[],
  needles: readonly (string | Buffer)[],
  options: { modifiedSince?: number; maxBytes?: number } = {},
): GrepHit[] {
  const wanted = needles.map((n) => ({ text: n.toString(), bytes: Buffer.isBuffer(n) ? n : Buffer.from(n) }));
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  const hits: GrepHit[] = [];
  const visit = (path: string): void => {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(path);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      let entries: string[];
      try {
        entries = readdirSync(path);
      } catch {
        return;
      }
      for (const e of entries) visit(join(path, e));
      return;
    }
    if (!st.isFile() || st.size > maxBytes) return;
    if (options.modifiedSince !== undefined && Math.max(st.mtimeMs, st.ctimeMs) < options.modifiedSince)
      return;
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      return;
    }
    for (const n of wanted) if (bytes.includes(n.bytes)) hits.push({ path, needle: n.text });
  };
  for (const r of roots) visit(r);
  return hits;
}

/** The forms a leaked value could take in text: raw, hex, base64 (three alignments), JSON-escaped. */
export function encodingsOf(value: string): string[] {
  const b = Buffer.from(value, "utf8");
  const forms = new Set<string>([value, b.toString("hex"), JSON.stringify(value).slice(1, -1)]);
  for (let shift = 0; shift < 3; shift++) {
    // Drop the partial first and last base64 groups so the core matches wherever the value sat.
    const enc = Buffer.concat([Buffer.alloc(shift), b]).toString("base64");
    const core = enc.slice(4, Math.max(4, enc.length - 4));
    if (core.length >= 16) forms.add(core);
  }
  return [...forms];
}
