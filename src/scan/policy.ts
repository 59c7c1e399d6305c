import { readProtectedFile } from "../load/index.js";
import { writeFileAtomic } from "../durable/index.js";
import { isSecretError, SecretError } from "../secret/index.js";
import type { Finding } from "./finding.js";

/** The team's accepted findings and allowlist, kept at the root of the repository. */
export const POLICY_FILE = ".keyhold-scan.json";
const POLICY_VERSION = 1;

export interface AcceptedFinding {
  id: string;
  rule: string;
  path: string;
  note?: string;
}

interface PolicyFile {
  version: number;
  allow?: { paths?: string[]; rules?: string[] };
  accepted?: AcceptedFinding[];
}

/**
 * What a scan leaves out: files matching `allow.paths` (globs, gitignore-like: `*`, `**`, `?`;
 * a pattern without `/` matches at any depth) are not read; rules in `allow.rules` do not run;
 * findings whose id is in `accepted` (the baseline) are not reported.
 */
export interface ScanPolicy {
  readonly source: string | undefined;
  readonly allowPaths: readonly string[];
  readonly allowRules: ReadonlySet<string>;
  readonly accepted: readonly AcceptedFinding[];
  pathAllowed(path: string): boolean;
  accepts(finding: Finding): boolean;
}

/** Limits on allow.paths: a policy may come with the repository being scanned. */
export const ALLOW_PATHS_MAX = 256;
export const GLOB_LENGTH_MAX = 512;

type GlobToken =
  | { kind: "char"; ch: string }
  | { kind: "one" } // ?  one character but '/'
  | { kind: "star" } // *  any run without '/'
  | { kind: "any" } // ** any run
  | { kind: "dirs" }; // **/ or an unanchored start: nothing, or any run ending in '/'

function globTokens(glob: string): GlobToken[] {
  const tokens: GlobToken[] = [];
  const last = () => tokens[tokens.length - 1]?.kind;
  for (let i = 0; i < glob.length; i++) {
    const ch = glob.charAt(i);
    if (ch === "*" && glob.charAt(i + 1) === "*") {
      i++;
      if (glob.charAt(i + 1) === "/") {
        i++;
        if (last() !== "dirs") tokens.push({ kind: "dirs" });
      } else if (last() !== "any") tokens.push({ kind: "any" });
    } else if (ch === "*") {
      if (last() !== "star" && last() !== "any") tokens.push({ kind: "star" });
    } else if (ch === "?") tokens.push({ kind: "one" });
    else tokens.push({ kind: "char", ch });
  }
  return tokens;
}

/**
 * A gitignore-like glob as a matcher (`*`, `**`, `?`; a pattern without '/' matches in any
 * directory; a directory pattern covers everything below it). Matching runs the pattern as a
 * set of states over the path, one step per character: time grows with path length × pattern
 * length and never explodes the way a backtracking regular expression can on `*a*a*a…b`.
 */
export function globMatcher(glob: string): (path: string) => boolean {
  const anchored = glob.includes("/");
  const tokens: GlobToken[] = [
    ...(anchored ? [] : [{ kind: "dirs" } as const]),
    ...globTokens(anchored ? glob.replace(/^\//, "") : glob),
  ];
  const end = tokens.length;
  // A `dirs` token has two states: at its start it may match nothing (go on at once); once it has
  // taken a character it must reach a '/' before the pattern goes on (`inside`).
  const close = (states: Uint8Array): void => {
    for (let i = 0; i < end; i++) {
      const kind = tokens[i]?.kind;
      if (states[i] && (kind === "star" || kind === "any" || kind === "dirs")) states[i + 1] = 1;
    }
  };
  return (path: string) => {
    let states = new Uint8Array(end + 1);
    let inside = new Uint8Array(end + 1);
    states[0] = 1;
    close(states);
    for (let p = 0; p < path.length; p++) {
      const c = path.charAt(p);
      if (states[end] && c === "/") return true; // the pattern named a directory above the path
      const next = new Uint8Array(end + 1);
      const nextInside = new Uint8Array(end + 1);
      for (let i = 0; i < end; i++) {
        const t = tokens[i] as GlobToken;
        if (t.kind === "dirs") {
          if (!states[i] && !inside[i]) continue;
          nextInside[i] = 1;
          if (c === "/") next[i + 1] = 1;
          continue;
        }
        if (!states[i]) continue;
        if (t.kind === "char" ? c === t.ch : t.kind === "one" ? c !== "/" : false) next[i + 1] = 1;
        else if ((t.kind === "star" && c !== "/") || t.kind === "any") next[i] = 1;
      }
      if (!next.includes(1) && !nextInside.includes(1)) return false;
      close(next);
      states = next;
      inside = nextInside;
    }
    return states[end] === 1;
  };
}

export function makePolicy(file: PolicyFile, source?: string): ScanPolicy {
  const allowPaths = file.allow?.paths ?? [];
  const matchers = allowPaths.map(globMatcher);
  const accepted = file.accepted ?? [];
  const ids = new Set(accepted.map((a) => a.id));
  return {
    source,
    allowPaths,
    allowRules: new Set(file.allow?.rules ?? []),
    accepted,
    pathAllowed: (path) => matchers.some((m) => m(path)),
    accepts: (finding) => ids.has(finding.id),
  };
}

export const EMPTY_POLICY: ScanPolicy = makePolicy({ version: POLICY_VERSION });

function invalid(path: string, why: string): SecretError {
  return new SecretError("INVALID_FORMAT", `scan policy ${path} is not valid: ${why}`, {
    hint: `see docs/scan.md for the format of ${POLICY_FILE}`,
  });
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

/** Reads a policy file; a missing file is an empty policy unless `required`. */
/** A policy (allow-list and baseline) larger than this is not one keyhold wrote or a person keeps. */
const POLICY_MAX_BYTES = 16 * 1024 * 1024;

export function loadPolicy(path: string, required: boolean): ScanPolicy {
  let text: string;
  try {
    // The policy comes with the repository being scanned, which may be hostile: a link to
    // /dev/zero or a FIFO must not hang or exhaust the scanner, so: a regular file, not a link,
    // of bounded size.
    text = readProtectedFile(path, {
      permissions: "any",
      owners: "any",
      maxBytes: POLICY_MAX_BYTES,
    }).toString("utf8");
  } catch (err) {
    if (isSecretError(err, "FILE_NOT_FOUND")) {
      if (!required) return EMPTY_POLICY;
      throw new SecretError("FILE_NOT_FOUND", `scan policy not found: ${path}`);
    }
    throw err;
  }
  let parsed: PolicyFile;
  try {
    parsed = JSON.parse(text) as PolicyFile;
  } catch {
    throw invalid(path, "not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw invalid(path, "not an object");
  if (parsed.version !== POLICY_VERSION) throw invalid(path, `unsupported version ${String(parsed.version)}`);
  if (parsed.allow !== undefined) {
    if (typeof parsed.allow !== "object" || parsed.allow === null || Array.isArray(parsed.allow))
      throw invalid(path, "allow must be an object");
    if (parsed.allow.paths !== undefined && !isStringArray(parsed.allow.paths))
      throw invalid(path, "allow.paths must be strings");
    if ((parsed.allow.paths?.length ?? 0) > ALLOW_PATHS_MAX)
      throw invalid(path, `allow.paths holds more than ${ALLOW_PATHS_MAX} patterns`);
    if (parsed.allow.paths?.some((g) => g.length === 0 || g.length > GLOB_LENGTH_MAX))
      throw invalid(path, `allow.paths patterns must be 1 to ${GLOB_LENGTH_MAX} characters`);
    if (parsed.allow.rules !== undefined && !isStringArray(parsed.allow.rules))
      throw invalid(path, "allow.rules must be strings");
  }
  if (parsed.accepted !== undefined) {
    const ok =
      Array.isArray(parsed.accepted) &&
      parsed.accepted.every(
        (a) => typeof a?.id === "string" && typeof a.rule === "string" && typeof a.path === "string",
      );
    if (!ok) throw invalid(path, "accepted entries need id, rule and path");
  }
  return makePolicy(parsed, path);
}

/**
 * Writes the policy with every current finding accepted (keeping the allowlist and the notes
 * of entries still present). The file holds ids, rules and paths: never a match.
 */
export function writeBaseline(
  path: string,
  policy: ScanPolicy,
  findings: readonly Pick<Finding, "id" | "rule" | "path">[],
): number {
  const notes = new Map(policy.accepted.map((a) => [a.id, a.note]));
  const accepted = new Map<string, AcceptedFinding>();
  for (const f of findings) {
    const note = notes.get(f.id);
    accepted.set(f.id, { id: f.id, rule: f.rule, path: f.path, ...(note === undefined ? {} : { note }) });
  }
  const file: PolicyFile = {
    version: POLICY_VERSION,
    allow: { paths: [...policy.allowPaths], rules: [...policy.allowRules] },
    accepted: [...accepted.values()].sort(
      (a, b) => a.path.localeCompare(b.path) || a.rule.localeCompare(b.rule),
    ),
  };
  writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o644 });
  return accepted.size;
}
