import { createHash } from "node:crypto";
import { type Detection, INCOMPLETE_RULE, KNOWN_VALUE_RULE } from "./detect.js";
import type { KnownOwner } from "./fingerprint-index.js";
import type { KnownForm } from "./known-values.js";
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
  path: string;
  line: number;
  column: number;
  /** History scans: the first commit (oldest, by git log order) that added the blob. */
  commit?: string;
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

// Files that should not be in a repository at all: removing the path from history is the fix.
const SECRET_FILES =
  /(?:^|\/)(?:\.env(?:\.[^/]+)?|[^/]+\.env|[^/]+\.(?:pem|key|p12|pfx|jks|keystore)|id_(?:rsa|dsa|ecdsa|ed25519)|credentials(?:\.json)?|\.npmrc|\.pypirc|\.netrc)$/;

export function findingId(rule: string, path: string, secret: string, owners?: KnownOwner[]): string {
  const subject = owners ? owners.map((o) => `${o.source}:${o.name}`).join(",") : secret;
  return createHash("sha256")
    .update(`keyhold-scan-finding\0${rule}\0${path}\0${subject}`)
    .digest("hex")
    .slice(0, 16);
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

function rewriteStep(path: string): string {
  const push = "then git push --force --all && git push --force --tags, and have every clone re-cloned";
  if (SECRET_FILES.test(path)) {
    return `remove the file from all of history: git filter-repo --invert-paths --path ${shellQuote(path)} (and add it to .gitignore); ${push}`;
  }
  return `replace the value in all of history: git filter-repo --replace-text <(keyhold scan --history --replacements); ${push}`;
}

function compromisedStep(commit: string | undefined): string {
  const since = commit ? `since commit ${commit.slice(0, 12)}` : "since it was written here";
  return `treat it as compromised: anyone with a clone, fork, CI cache or backup has it; check the provider's logs for use ${since}`;
}

/**
 * The note that a file was not fully scanned or had more findings than reported: no match, no
 * value, and steps that say to look at the file rather than to rotate a key.
 */
function incompleteFinding(
  detection: Detection,
  path: string,
  where: { commit?: string; blob?: string },
): Finding {
  return {
    id: findingId(INCOMPLETE_RULE, path, ""),
    rule: INCOMPLETE_RULE,
    title: detection.note ?? "not fully scanned",
    path,
    line: detection.line,
    column: detection.column,
    ...(where.commit === undefined ? {} : { commit: where.commit }),
    ...(where.blob === undefined ? {} : { blob: where.blob }),
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
  path: string,
  rules: ReadonlyMap<string, Rule>,
  where: { commit?: string; blob?: string } = {},
): Finding {
  if (detection.rule === INCOMPLETE_RULE) return incompleteFinding(detection, path, where);
  const rule = rules.get(detection.rule);
  const known = detection.rule === KNOWN_VALUE_RULE;
  const title = known
    ? `value stored in keyhold (${detection.owners?.map((o) => `${o.source} ${o.name}`).join(", ")})${detection.form && detection.form !== "raw" ? `, ${detection.form}-encoded` : ""}`
    : (rule?.title ?? detection.rule);
  const finding: Finding = {
    id: findingId(detection.rule, path, detection.secret, detection.owners),
    rule: detection.rule,
    title,
    path,
    line: detection.line,
    column: detection.column,
    ...(where.commit === undefined ? {} : { commit: where.commit }),
    ...(where.blob === undefined ? {} : { blob: where.blob }),
    masked: maskMatch(detection.secret, known),
    length: detection.secret.length,
    ...(detection.form === undefined ? {} : { form: detection.form }),
    ...(detection.owners === undefined ? {} : { credentials: detection.owners }),
    remediation: {
      rotate: rotateStep(rule, detection.owners),
      rewrite: rewriteStep(path),
      compromised: compromisedStep(where.commit),
    },
  };
  matches.set(finding, detection.secret);
  return finding;
}
