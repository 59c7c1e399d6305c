import type { Rule } from "../../../src/scan/index.js";
import { literalKeywords } from "../../../src/scan/prefilter.js";

/*
 * Adversarial inputs for one pattern rule, built from its own prefixes and alphabets: the shapes
 * that make a backtracking regex quadratic or worse. A prefix repeated (each copy a new start
 * that may read to the end of the run), a prefix and one filler character repeated, and one
 * prefix followed by a long run of one character and then a character that breaks the match.
 */

/** About 1 MiB per input, from at most 200,000 copies of its unit. */
const TARGET_BYTES = 1 << 20;
const MAX_COPIES = 200_000;

// Separators and alphabet characters a key format allows or ends on.
const FILLERS = ["a", "0", "/", "-", "_", "=", ".", ":", " ", "+", "~", "\n", "\na: "];
const RUNS = ["a", "0", " ", "_", "=", "/", "-", "\t"];
const BREAK = "'";

// Literal starts of rules whose keywords are a RegExp or do not begin the match, and starts
// that earlier reviews showed to be hostile.
const EXTRA_PREFIXES: Record<string, string[]> = {
  "aws-secret-access-key": ["secret_access_key=", 'SECRET_ACCESS_KEY: "', "secret.access.key"],
  "generic-secret-assignment": [
    "api_key=",
    'token: "',
    "password=",
    "secret",
    "auth_key:",
    "<secret",
    "</a><token>",
    'key="token" value="',
    "token: |\n ",
    'variable "token" {',
    "ENV TOKEN ",
    "machine h password ",
    "kind: Secret\n a: ",
    "Authorization: Bearer ",
  ],
  "private-key": ["-----BEGIN PRIVATE KEY-----", "\na: -----BEGIN PRIVATE KEY-----", "-----BEGIN "],
  "sentry-token": ["/sntrys_eyJ", "=sntrys_eyJ", " sntrys_eyJ"],
  "dotenv-tracked": ["A=x", "\nA=x", "export A=", 'A="x', "\nA"],
  "url-credentials": [
    "https://u:",
    "://",
    "a://u:p",
    "https://",
    "\nhttps://u:p@",
    "https://aaaaaaaaaaaaaaaaaaaa:x-oauth-basic",
  ],
  jwt: ["eyJ", "eyJaaaaaaaaa.eyJ", ".eyJaaaaaaaaa."],
  "openai-api-key": ["sk-", "sk-proj-", "T3BlbkFJ", " sk-aaaaaaaaaaaaaaaaT3BlbkFJ"],
  "terraform-cloud-token": ["aaaaaaaaaaaaaa.atlasv1."],
  "telegram-bot-token": ["12345678:AA"],
  "azure-ad-client-secret": ["abc1Q~"],
  "slack-token": ["xoxb-123456-", "xapp-1-A"],
  "slack-webhook": ["https://hooks.slack.com/services/T"],
  "discord-webhook": ["https://discord.com/api/webhooks/"],
  "mailchimp-api-key": ["0123abcd-us"],
  "discord-bot-token": [
    "discord",
    "discord MTE3NjQ4MjA5NTUxNjU4NTk4Mg.",
    "discord MTE3NjQ4MjA5NTUxNjU4NTk4Mg.Gabcde.",
  ],
  "freemius-secret-key": ["'secret_key' => '", "'secret_key' => 'sk_"],
};

export interface HostileInput {
  label: string;
  text: string;
}

function repeated(unit: string): string {
  return unit.repeat(Math.max(1, Math.min(MAX_COPIES, Math.ceil(TARGET_BYTES / unit.length))));
}

function printable(s: string): string {
  return JSON.stringify(s.length > 24 ? `${s.slice(0, 24)}…` : s);
}

export function hostilePrefixes(rule: Rule): string[] {
  // A RegExp of literal words (`/datadog|dd_api_key/i` from keywordRule) gives its words, unless
  // the rule names its start strings above.
  const keywords = rule.keywords;
  const own =
    keywords instanceof RegExp
      ? EXTRA_PREFIXES[rule.id]
        ? []
        : (literalKeywords(rule)?.words ?? []).slice(0, 4)
      : keywords.slice(0, 4);
  return [...new Set([...own, ...(EXTRA_PREFIXES[rule.id] ?? [])])];
}

export function* hostileInputs(rule: Rule): Generator<HostileInput> {
  for (const prefix of hostilePrefixes(rule)) {
    const p = printable(prefix);
    yield { label: `${p} repeated`, text: repeated(prefix) };
    for (const f of FILLERS) yield { label: `(${p} + ${printable(f)}) repeated`, text: repeated(prefix + f) };
    for (const r of RUNS) {
      yield { label: `${p} + ${printable(r)} run + break`, text: prefix + r.repeat(TARGET_BYTES) + BREAK };
    }
  }
}

// Files some forms of a rule run on alone (a .git-credentials file, a .netrc).
const FORM_PATHS = [".git-credentials", ".netrc"];

/**
 * Where a rule's inputs are scanned: a path every rule runs on (`.env` for the .env rule), and
 * each path of FORM_PATHS that one of its forms is limited to, so those forms meet the inputs too.
 */
export function hostilePaths(rule: Rule): string[] {
  if (rule.paths) return [".env"];
  const forms = rule.forms ?? [];
  return ["hostile.txt", ...FORM_PATHS.filter((p) => forms.some((f) => f.paths?.test(p)))];
}

const b64 = (text: string) => Buffer.from(text).toString("base64");
const SECRET_HEAD = "apiVersion: v1\nkind: Secret\ndata:\n";

/**
 * Kubernetes Secrets whose `data:` values are decoded and scanned with every rule
 * (kubernetes-secret.ts): many values, one huge value, decoded texts built from hostile prefixes,
 * lines that almost parse as entries, many documents, deep indents.
 */
export function* secretDataHostileInputs(): Generator<HostileInput> {
  const fill = (unit: string) => unit.repeat(Math.max(1, Math.floor(TARGET_BYTES / unit.length)));
  yield { label: "many small values", text: SECRET_HEAD + fill(`  a: ${b64("api_key=abcdefgh")}\n`) };
  yield {
    label: "many one-line documents",
    text: fill(`---\nkind: Secret\ndata:\n  a: ${b64("aaaaaaaa")}\n`),
  };
  for (const prefix of [
    "api_key=",
    "ghp_",
    "-----BEGIN ",
    "eyJ",
    "https://u:",
    "kind: Secret\ndata:\n a: ",
    "sk-",
    "AKIA",
  ]) {
    const decoded = fill(prefix).slice(0, (TARGET_BYTES * 3) >> 2);
    yield { label: `one value: ${printable(prefix)} repeated`, text: `${SECRET_HEAD}  a: ${b64(decoded)}\n` };
  }
  yield { label: "a base64 run that is no entry", text: `${SECRET_HEAD}  a: ${"A".repeat(TARGET_BYTES)}!` };
  yield {
    label: "a name longer than any key",
    text: `${SECRET_HEAD}  ${"a".repeat(TARGET_BYTES)}: QUFBQUFBQUE=`,
  };
  yield { label: "a deep indent", text: `${SECRET_HEAD}${" ".repeat(TARGET_BYTES)}a: QUFBQUFBQUE=` };
  yield { label: "data: repeated", text: `kind: Secret\n${fill("data:\n ")}` };
  yield { label: "blank and comment lines", text: SECRET_HEAD + fill("  # a\n\n") };
}
