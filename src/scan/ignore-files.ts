import { join } from "node:path";
import { readProtectedFile } from "../load/index.js";
import { isKeyholdError, KeyholdError } from "../secret/index.js";
import type { Finding } from "./finding.js";
import { GLOB_LENGTH_MAX, globMatcher, type ScanPolicy } from "./policy.js";

/*
 * The decisions people made with other scanners, read from the scanned repository's top:
 * `.gitleaksignore` (gitleaks' finding fingerprints) and `.secretlintignore` (paths secretlint
 * does not read). Both come with the repository, so both are hostile input: bounded in size,
 * read as regular files (never through a link or a FIFO), and refused with INVALID_FORMAT when
 * they are not what they claim to be.
 */

export const GITLEAKS_IGNORE = ".gitleaksignore";
export const SECRETLINT_IGNORE = ".secretlintignore";

/** Larger files are not ones a person keeps. */
export const IGNORE_FILE_MAX_BYTES = 4 * 1024 * 1024;
export const GITLEAKS_ENTRIES_MAX = 100_000;
/** Each path is matched against every pattern: as for allow.paths, the count is bounded. */
export const SECRETLINT_PATTERNS_MAX = 256;
const LINE_MAX = 4096;

/**
 * gitleaks rule ids and the keyhold rule that finds the same key. An id not in the table (and
 * gitleaks' own generic rule, whose findings keyhold may make with a provider rule) matches any
 * keyhold finding at the same file and line.
 */
const GITLEAKS_RULES: Readonly<Record<string, string>> = {
  "age-secret-key": "age-secret-key",
  "anthropic-api-key": "anthropic-api-key",
  "anthropic-admin-api-key": "anthropic-api-key",
  "atlassian-api-token": "atlassian-api-token",
  "aws-access-token": "aws-access-key-id",
  "azure-ad-client-secret": "azure-ad-client-secret",
  "databricks-api-token": "databricks-token",
  "digitalocean-access-token": "digitalocean-token",
  "digitalocean-pat": "digitalocean-token",
  "digitalocean-refresh-token": "digitalocean-token",
  "discord-webhook": "discord-webhook",
  "doppler-api-token": "doppler-token",
  "gcp-api-key": "google-api-key",
  "github-app-token": "github-token",
  "github-fine-grained-pat": "github-fine-grained-token",
  "github-oauth": "github-token",
  "github-pat": "github-token",
  "github-refresh-token": "github-token",
  "gitlab-pat": "gitlab-token",
  "gitlab-ptt": "gitlab-token",
  "gitlab-rrt": "gitlab-token",
  "gitlab-deploy-token": "gitlab-token",
  "grafana-service-account-token": "grafana-token",
  "hashicorp-tf-api-token": "terraform-cloud-token",
  "heroku-api-key-v2": "heroku-api-key",
  "huggingface-access-token": "huggingface-token",
  "huggingface-organization-api-token": "huggingface-token",
  jwt: "jwt",
  "linear-api-key": "linear-api-key",
  "mailchimp-api-key": "mailchimp-api-key",
  "new-relic-user-api-key": "newrelic-user-key",
  "npm-access-token": "npm-token",
  "openai-api-key": "openai-api-key",
  "perplexity-api-key": "perplexity-api-key",
  "postman-api-token": "postman-api-key",
  "private-key": "private-key",
  "pulumi-api-token": "pulumi-token",
  "pypi-upload-token": "pypi-token",
  "sendgrid-api-token": "sendgrid-api-key",
  "sentry-access-token": "sentry-token",
  "sentry-org-token": "sentry-token",
  "sentry-user-token": "sentry-token",
  "shopify-access-token": "shopify-token",
  "shopify-custom-access-token": "shopify-token",
  "shopify-private-app-access-token": "shopify-token",
  "shopify-shared-secret": "shopify-token",
  "slack-app-token": "slack-token",
  "slack-bot-token": "slack-token",
  "slack-config-access-token": "slack-token",
  "slack-config-refresh-token": "slack-token",
  "slack-legacy-bot-token": "slack-token",
  "slack-legacy-token": "slack-token",
  "slack-legacy-workspace-token": "slack-token",
  "slack-user-token": "slack-token",
  "slack-webhook-url": "slack-webhook",
  "square-access-token": "square-token",
  "stripe-access-token": "stripe-secret-key",
  "telegram-bot-api-token": "telegram-bot-token",
  "twilio-api-key": "twilio-api-key",
  "vault-batch-token": "hashicorp-vault-token",
  "vault-service-token": "hashicorp-vault-token",
  "xai-api-key": "xai-api-key",
};

/** One line of a `.gitleaksignore`: `file:rule:line` or `commit:file:rule:line`. */
export interface GitleaksEntry {
  commit?: string;
  file: string;
  rule: string;
  line: number;
}

function invalid(name: string, why: string): KeyholdError {
  return new KeyholdError("INVALID_FORMAT", `${name} is not valid: ${why}`, {
    hint: "see docs/scan.md (Coming from gitleaks or secretlint)",
  });
}

/** The text of an ignore file: UTF-8 without NUL bytes, lines without a CR. */
function ignoreLines(bytes: Buffer, name: string): string[] {
  if (bytes.includes(0)) throw invalid(name, "it holds NUL bytes (not a text file)");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalid(name, "it is not UTF-8 text");
  }
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  for (const [i, line] of lines.entries()) {
    if (line.length > LINE_MAX) throw invalid(name, `line ${i + 1} is longer than ${LINE_MAX} characters`);
  }
  return lines.map((l) => l.replace(/\r$/, ""));
}

/** Parses a `.gitleaksignore`. Blank lines and `#` comments are skipped. */
export function parseGitleaksIgnore(bytes: Buffer, name = GITLEAKS_IGNORE): GitleaksEntry[] {
  const entries: GitleaksEntry[] = [];
  for (const [i, raw] of ignoreLines(bytes, name).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    // The file may itself hold ':', so the rule and line are taken from the end.
    const parts = line.split(":");
    const lineNo = parts.pop() ?? "";
    const rule = parts.pop() ?? "";
    let file = parts.join(":");
    let commit: string | undefined;
    const c = /^([0-9a-f]{40}|[0-9a-f]{64}):/.exec(file);
    if (c) {
      commit = c[1];
      file = file.slice(c[0].length);
    }
    if (!/^[1-9][0-9]{0,8}$/.test(lineNo) || !/^[A-Za-z0-9_.-]{1,128}$/.test(rule) || file === "") {
      throw invalid(
        name,
        `line ${i + 1} is not a gitleaks fingerprint (file:rule:line or commit:file:rule:line)`,
      );
    }
    if (entries.length >= GITLEAKS_ENTRIES_MAX)
      throw invalid(name, `it holds more than ${GITLEAKS_ENTRIES_MAX} entries`);
    entries.push({ ...(commit === undefined ? {} : { commit }), file, rule, line: Number(lineNo) });
  }
  return entries;
}

/**
 * Whether a finding is one a `.gitleaksignore` entry names: same file and line, the keyhold rule
 * the gitleaks id maps to (any rule for an id keyhold has no counterpart of), and the same
 * commit when both have one. An entry with a commit also matches a finding without one (a tree
 * or staged scan of the same line): gitleaks' default scan is of history, so that is the form
 * most files hold.
 */
export function gitleaksMatcher(
  entries: readonly GitleaksEntry[],
): (finding: Pick<Finding, "path" | "line" | "rule" | "commit">) => boolean {
  const byPlace = new Map<string, GitleaksEntry[]>();
  for (const e of entries) {
    const key = `${e.file}\0${e.line}`;
    byPlace.set(key, [...(byPlace.get(key) ?? []), e]);
  }
  return (finding) =>
    (byPlace.get(`${finding.path}\0${finding.line}`) ?? []).some((e) => {
      const rule = GITLEAKS_RULES[e.rule];
      return (
        (rule === undefined || rule === finding.rule) &&
        (e.commit === undefined || finding.commit === undefined || e.commit === finding.commit)
      );
    });
}

/**
 * Parses a `.secretlintignore` (gitignore syntax): `#` comments, `!` to take a path back, a
 * trailing `/` for directories only, a leading or inner `/` to anchor at the top; the last
 * pattern that matches a path decides. Character classes (`[abc]`) are refused: the glob
 * matcher does not have them, and reading them as literal text would not skip what the file
 * means to skip.
 */
export function parseSecretlintIgnore(bytes: Buffer, name = SECRETLINT_IGNORE): (path: string) => boolean {
  const patterns: { negate: boolean; dirOnly: boolean; match: (path: string) => boolean }[] = [];
  for (const [i, raw] of ignoreLines(bytes, name).entries()) {
    let line = raw.replace(/(?<!\\)[ \t]+$/, "");
    if (line === "" || line.startsWith("#")) continue;
    const negate = line.startsWith("!");
    if (negate) line = line.slice(1);
    line = line.replace(/^\\([#!])/, "$1");
    if (/[[\]]/.test(line))
      throw invalid(name, `line ${i + 1} uses a character class ([…]), which keyhold does not read`);
    if (line.includes("\\"))
      throw invalid(name, `line ${i + 1} uses an escape (\\), which keyhold does not read`);
    const dirOnly = line.endsWith("/");
    if (dirOnly) line = line.replace(/\/+$/, "");
    if (line === "" || line.length > GLOB_LENGTH_MAX)
      throw invalid(name, `line ${i + 1} must be a pattern of 1 to ${GLOB_LENGTH_MAX} characters`);
    if (patterns.length >= SECRETLINT_PATTERNS_MAX)
      throw invalid(name, `it holds more than ${SECRETLINT_PATTERNS_MAX} patterns`);
    patterns.push({ negate, dirOnly, match: globMatcher(line) });
  }
  return (path) => {
    let ignored = false;
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : undefined;
    for (const p of patterns) {
      // A directory pattern matches a directory above the path (globMatcher covers what is below
      // a matched directory), never the file itself.
      const hit = p.dirOnly ? dir !== undefined && p.match(dir) : p.match(path);
      if (hit) ignored = !p.negate;
    }
    return ignored;
  };
}

function readIgnoreFile(path: string): Buffer | undefined {
  try {
    return readProtectedFile(path, { permissions: "any", owners: "any", maxBytes: IGNORE_FILE_MAX_BYTES });
  } catch (err) {
    if (isKeyholdError(err, "FILE_NOT_FOUND")) return undefined;
    throw err;
  }
}

/**
 * The policy with the `.gitleaksignore` and `.secretlintignore` of the scanned top `root`
 * added: paths the latter names are not read, findings the former names are accepted. The
 * policy's own fields (and so a baseline written from it) are unchanged.
 */
export function withIgnoreFiles(policy: ScanPolicy, root: string): ScanPolicy {
  const gitleaks = readIgnoreFile(join(root, GITLEAKS_IGNORE));
  const secretlint = readIgnoreFile(join(root, SECRETLINT_IGNORE));
  if (gitleaks === undefined && secretlint === undefined) return policy;
  const accepts = gitleaks === undefined ? () => false : gitleaksMatcher(parseGitleaksIgnore(gitleaks));
  const ignored = secretlint === undefined ? () => false : parseSecretlintIgnore(secretlint);
  return {
    ...policy,
    pathAllowed: (path) => policy.pathAllowed(path) || ignored(path),
    accepts: (finding) => policy.accepts(finding) || accepts(finding),
  };
}
