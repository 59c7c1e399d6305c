import { createHash } from "node:crypto";
import { type Detection, INCOMPLETE_RULE, KNOWN_VALUE_RULE } from "./detect.js";
import type { KnownOwner } from "./fingerprint-index.js";
import type { KnownForm } from "./known-values.js";
import { findingPathFields, pathText } from "./path.js";
import type { Rule } from "./rule.js";

/** What to do about one finding, in the order the git hygiene rules set. */
export interface Remediation {
  /** 1. Rotate the key first: it is compromised the moment it was committed. */
  rotate: string;
  /** 2. Then rewrite history (deleting the file in a new commit leaves it in history). */
  rewrite: string;
  /** 3. And treat it as compromised. */
  compromised: string;
}

/**
 * A reported finding. It never holds the matched value: `masked` shows at most its first four
 * characters (none for a stored keyhold value) and its length.
 */
export interface Finding {
  /** Stable id for the baseline: a truncated SHA-256 over rule, path and match (owner names for stored values). */
  id: string;
  rule: string;
  title: string;
  /**
   * The file, relative to the scan root: its name as text when that is valid UTF-8; otherwise
   * the name with each byte that is not written `\xNN`, and `pathBase64` holds the exact bytes.
   * Empty for a finding in a message.
   */
  path: string;
  /** Only for a path that is not valid UTF-8: its exact bytes, base64. */
  pathBase64?: string;
  /** A finding in the message of a commit (named by `commit`) or an annotated tag (`tag`). */
  message?: "commit" | "tag";
  /** 1-based line and byte column, in the file or (for `message`) in the message alone. */
  line: number;
  column: number;
  /** History scans: the first commit (oldest, by git log order) that added the blob; or the commit whose message holds the match. */
  commit?: string;
  /** The annotated tag object whose message holds the match. */
  tag?: string;
  blob?: string;
  masked: string;
  length: number;
  /** Stored values: how the value appeared. */
  form?: KnownForm;
  /** Stored values: the keyhold credentials or vault secrets it belongs to. */
  credentials?: KnownOwner[];
  remediation: Remediation;
}

// The matched text of each finding, kept beside it (not in it) so no serialisation of a
// Finding can carry it. Read only by `--replacements`.
const matches = new WeakMap<Finding, string>();

/** The matched text, for `keyhold scan --replacements` only. */
export function exposeFindingMatch(finding: Finding): string | undefined {
  return matches.get(finding);
}

export function maskMatch(secret: string, known: boolean): string {
  const shown = known || secret.length < 12 ? "" : secret.slice(0, 4);
  return `${shown}…(${secret.length})`;
}

/** Quotes a word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Quotes a path for a shell command a person will paste. A name that is not valid UTF-8 or holds
 * control characters is written as `$'…'` with `\xNN` for those bytes (bash, zsh, ksh and POSIX
 * sh since 2024), so the command names the exact file.
 */
function shellQuotePath(path: Buffer): string {
  const text = pathText(path);
  if (!/[\u0000-\u001f\u007f-\u009f\u{dc80}-\u{dcff}]/u.test(text)) return shellQuote(text);
  let out = "";
  for (const c of text) {
    const code = c.codePointAt(0)!;
    if (code >= 0xdc80 && code <= 0xdcff) out += `\\x${(code - 0xdc00).toString(16).padStart(2, "0")}`;
    else if (code < 0x20 || (code >= 0x7f && code <= 0x9f))
      out += [...Buffer.from(c, "utf8")].map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("");
    else if (c === "'" || c === "\\") out += `\\${c}`;
    else out += c;
  }
  return `$'${out}'`;
}

// Files that should not be in a repository at all: removing the path from history is the fix.
const SECRET_FILES =
  /(?:^|\/)(?:\.env(?:\.[^/]+)?|[^/]+\.env|[^/]+\.(?:pem|key|p12|pfx|jks|keystore)|id_(?:rsa|dsa|ecdsa|ed25519)|credentials(?:\.json)?|\.npmrc|\.pypirc|\.netrc)$/;

/**
 * A finding's stable id: SHA-256 over the rule, the path's bytes (a message's kind for a
 * finding in a message, which no path can spell: it starts with NUL) and the match or owners.
 */
export function findingId(
  rule: string,
  path: Buffer | string,
  secret: string,
  owners?: KnownOwner[],
): string {
  const subject = owners ? owners.map((o) => `${o.source}:${o.name}`).join(",") : secret;
  return createHash("sha256")
    .update(`keyhold-scan-finding\0${rule}\0`)
    .update(path)
    .update(`\0${subject}`)
    .digest("hex")
    .slice(0, 16);
}

/** Where a detection was: a file or blob at a path, or the message of a commit or an annotated tag. */
export type FindingPlace =
  // `archive`: for a member of an archive (path `bundle.zip!inner/app.env`), the archive's own path.
  | { path: Buffer; commit?: string; blob?: string; archive?: Buffer }
  | { message: "commit"; commit?: string }
  | { message: "tag"; tag: string };

/** The fields of a finding that say where it is. */
function placeFields(
  place: FindingPlace,
): Pick<Finding, "path" | "pathBase64" | "message" | "commit" | "tag" | "blob"> {
  if ("message" in place) {
    if (place.message === "tag") return { path: "", message: "tag", tag: place.tag };
    return { path: "", message: "commit", ...(place.commit ? { commit: place.commit } : {}) };
  }
  return {
    ...findingPathFields(place.path),
    ...(place.commit === undefined ? {} : { commit: place.commit }),
    ...(place.blob === undefined ? {} : { blob: place.blob }),
  };
}

function idPath(place: FindingPlace): Buffer {
  return "message" in place ? Buffer.from(`\0${place.message}-message`) : place.path;
}

function rotateStep(rule: Rule | undefined, owners: KnownOwner[] | undefined): string {
  if (owners && owners.length > 0) {
    const commands = owners.map((o) =>
      o.source === "credstore"
        ? `keyhold rotate ${shellQuote(o.name)}`
        : `keyhold vault put ${shellQuote(o.name)}`,
    );
    return `rotate it now: it is keyhold's ${owners.map((o) => o.name).join(", ")}; revoke the old value at its provider, then run: ${commands.join(" ; ")}`;
  }
  const revoke = rule?.revoke ?? "revoke it at the service that issued it";
  return `rotate it now: ${revoke}; keep the new value in keyhold (keyhold set NAME, or keyhold rotate NAME if keyhold holds it already)`;
}

function rewriteStep(place: FindingPlace): string {
  const push = "then git push --force --all && git push --force --tags, and have every clone re-cloned";
  if ("message" in place) {
    return `replace the value in every commit and tag message: git filter-repo --replace-message <(keyhold scan --history --replacements); ${push}`;
  }
  // A value inside a compressed archive cannot be replaced in place: the archive goes.
  if (place.archive !== undefined) {
    return `remove the archive from all of history: git filter-repo --invert-paths --path ${shellQuotePath(place.archive)} (and add it to .gitignore); ${push}`;
  }
  if (SECRET_FILES.test(pathText(place.path))) {
    return `remove the file from all of history: git filter-repo --invert-paths --path ${shellQuotePath(place.path)} (and add it to .gitignore); ${push}`;
  }
  return `replace the value in all of history: git filter-repo --replace-text <(keyhold scan --history --replacements); ${push}`;
}

function compromisedStep(place: FindingPlace): string {
  const commit = "commit" in place ? place.commit : undefined;
  const since =
    "tag" in place
      ? `since tag ${place.tag.slice(0, 12)} was made`
      : commit
        ? `since commit ${commit.slice(0, 12)}`
        : "since it was written here";
  return `treat it as compromised: anyone with a clone, fork, CI cache or backup has it; check the provider's logs for use ${since}`;
}

/**
 * The note that a file was not fully scanned or had more findings than reported: no match, no
 * value, and steps that say to look at the file rather than to rotate a key.
 */
function incompleteFinding(detection: Detection, place: FindingPlace): Finding {
  return {
    id: findingId(INCOMPLETE_RULE, idPath(place), ""),
    rule: INCOMPLETE_RULE,
    title: detection.note ?? "not fully scanned",
    ...placeFields(place),
    line: detection.line,
    column: detection.column,
    masked: "",
    length: 0,
    remediation: {
      rotate: "look through this file by hand: keyhold did not check or report all of it",
      rewrite: "if it holds keys, rotate each of them and remove them from history as for any finding",
      compromised:
        "if the file is generated or vendored, keep it out of the repository or allowlist its path in .keyhold-scan.json",
    },
  };
}

export function toFinding(
  detection: Detection,
  place: FindingPlace,
  rules: ReadonlyMap<string, Rule>,
): Finding {
  if (detection.rule === INCOMPLETE_RULE) return incompleteFinding(detection, place);
  const rule = rules.get(detection.rule);
  const known = detection.rule === KNOWN_VALUE_RULE;
  const title = known
    ? `value stored in keyhold (${detection.owners?.map((o) => `${o.source} ${o.name}`).join(", ")})${detection.form && detection.form !== "raw" ? `, ${detection.form}-encoded` : ""}`
    : (rule?.title ?? detection.rule);
  const finding: Finding = {
    id: findingId(detection.rule, idPath(place), detection.secret, detection.owners),
    rule: detection.rule,
    title,
    ...placeFields(place),
    line: detection.line,
    column: detection.column,
    masked: maskMatch(detection.secret, known),
    length: detection.secret.length,
    ...(detection.form === undefined ? {} : { form: detection.form }),
    ...(detection.owners === undefined ? {} : { credentials: detection.owners }),
    remediation: {
      rotate: rotateStep(rule, detection.owners),
      rewrite: rewriteStep(place),
      compromised: compromisedStep(place),
    },
  };
  matches.set(finding, detection.secret);
  return finding;
}
