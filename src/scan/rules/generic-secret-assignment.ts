import { defineRule, entropyOf, looksLikePlaceholder } from "../rule.js";

/*
 * A high-entropy value assigned to a key-like name, in the syntax of the languages and formats
 * people commit. Every pattern starts at the key word of the name (so the engine rejects most
 * positions on their first character), every repetition is bounded, and what comes before the
 * key word is read in confirm(): each match attempt costs a bounded number of steps, so a file
 * is scanned in time linear in its length (test/scan/hostile.test.ts).
 */

// The key words a name must hold. `_auth` is .npmrc's base64 of user:password; `pass` only as
// a word of its own (`DB_PASS`, not `bypass`).
const WORD =
  "(?:api[_.-]?key|apikey|secret|token|passw(?:or)?d|passwd|(?<![a-z])pass(?![a-z])|pwd|credentials?|(?:auth|private|access|signing|encryption|master|hmac|client|consumer|subscription|app)[_.-]?key|_auth(?![A-Za-z0-9]))";
/**
 * `body` matched once, without backtracking into it (a lookahead is atomic): a run that cannot
 * be followed by what comes next fails at once instead of being retried at every shorter length.
 */
const atomic = (group: string, body: string) => `(?=(?<${group}>${body}))\\k<${group}>`;
// The rest of a name after its key word.
const REST = atomic("rest", "[A-Za-z0-9_.-]{0,40}");
/**
 * The key word of a name that must follow `prefix`. The check is a lookbehind placed after the
 * key word, so it runs only where a key word is, never at every position of the text.
 */
const wordAfter = (prefix: string) => `${WORD}(?<=${prefix}${WORD})`;
// A value: 16 to 128 characters of what keys, passwords and their encodings are made of.
const CHARS = "A-Za-z0-9+/=_.~!@#$%^&*-";
const VALUE = atomic("secret", `[${CHARS}]{16,128}`);
// Where a value ends: not inside a longer run, not a call (`getenv(`), not the start of a
// template (`…{{`), not a YAML key (`x: `).
const END = `(?![({${CHARS}]|:[ \\t\\r\\n]|:$)`;
const SP = "[ \\t]{0,20}";
const NL = "[ \\t\\r\\n]{0,200}";
// Assignment operators: Makefile (`:::=`, `::=`, `?=`, `+=`; `!=` runs a command, left out), Go
// and Pascal (`:=`), PHP (`.=`), Ruby (`||=`), JavaScript (`??=`), R (`<-`), shell defaults
// (`${X:-value}`), hashes (`=>`), and `=` and `:`.
const OPERATOR = "(?::::=|::=|:=|\\?=|\\+=|\\.=|\\|\\|=|\\?\\?=|<-|=>|:-|=(?![=~>])|:(?!:))";
// A type between a name and `=`: Go `token string =`, Kotlin and TypeScript `apiKey: String =`,
// Python `api_key: str =`.
const TYPE = `(?:(?:[ \\t]{1,20}|${SP}:${SP})${atomic("type", "[A-Za-z_][A-Za-z0-9_.<>\\[\\]?*]{0,40}")})?${SP}`;
// The opening of a quoted value, with a string prefix (Python r"…" b"…" f"…", C# @"…" $"…"); a
// quote may be escaped (`\"` in a JSON string holding code: Jupyter notebooks). Laravel's
// `APP_KEY=base64:…` is judged on what follows `base64:`.
const OPEN = `(?:[rRbBuUfF@$]{1,2}(?=\\\\?["'\`]))?(?<quote>\\\\?["'\`]|)(?:base64:)?`;

const flags = "gi";

/**
 * `name = value` on one line, in any of: Go (`var githubToken string = "…"`, `:=`), PHP
 * (`$xToken = "…"`, `.=`, `'key' => '…'`), Java/Kotlin (properties, `System.setProperty("X_TOKEN",
 * "…")`), C#, Ruby (`=>`, `key: "…"`, `||=`), Python (annotations, kwargs, `os.environ["X"] =`),
 * shell (`export X=`, `${X:-…}`), Makefile, Terraform/HCL, TOML, INI, JSON, YAML, XML
 * attributes, Dockerfile `ENV X=…`, `.npmrc` (`_authToken=`, `_auth=`), `.pypirc`, and JSON
 * strings holding such lines (`\"api_key\": \"…\"` in a notebook). The value may be on the
 * next line (`"password":` then the value, in pretty-printed JSON or YAML).
 */
const ASSIGNMENT = new RegExp(
  `(?<name>${WORD}${REST})(?:\\\\?["'\`])?\\]?(?:${SP}(?<comma>,)|${TYPE}${OPERATOR})${SP}(?:\\r?\\n[ \\t]{0,40})?${OPEN}${VALUE}\\k<quote>${END}`,
  flags,
);

/** `Authorization: Bearer …` (and `Basic`, `token`) in headers, curl commands and code. */
const AUTHORIZATION = new RegExp(
  `(?<name>authorization)["'\`]?${SP}(?:=>|[:=,])${SP}["'\`]?(?:bearer|basic|token)[ \\t]{1,5}${VALUE}${END}`,
  flags,
);

/** `<apiKey>…</apiKey>`, `<password type="x">` with the value on a line of its own. */
const XML_ELEMENT = new RegExp(
  `(?<name>${wordAfter("<[A-Za-z0-9_:.-]{0,40}")}${REST})(?:[ \\t\\r\\n][^<>]{0,200})?>${NL}${VALUE}${NL}</`,
  flags,
);

/** A name in one attribute and the value in the next: `<add key="ApiKey" value="…"/>` (.NET), `<property name="password" value="…"/>` (Spring). */
const XML_NAME_VALUE = new RegExp(
  `(?<name>${wordAfter(`(?:key|name)${SP}=${SP}["'][^"'<>]{0,40}`)}[^"'<>]{0,40})["'][ \\t\\r\\n]{1,40}value${SP}=${SP}(?<quote>["'])${VALUE}\\k<quote>`,
  flags,
);

/** A name in an attribute and the value in the element: `<entry key="api.token">…</entry>`. */
const XML_NAME_TEXT = new RegExp(
  `(?<name>${wordAfter(`(?:key|name)${SP}=${SP}["'][^"'<>]{0,40}`)}[^"'<>]{0,40})["']${SP}>${NL}${VALUE}${NL}<`,
  flags,
);

/** YAML block scalars: `token: |` (or `>-`, …) and the value on the next line. */
const YAML_BLOCK = new RegExp(
  `(?<name>${WORD}${REST})["']?${SP}:${SP}[|>][-+1-9]{0,2}${SP}\\r?\\n[ \\t]{1,80}${VALUE}${SP}(?=\\r?\\n|$)`,
  flags,
);

/** Terraform/HCL: `variable "github_token" { … default = "…" }`. */
const HCL_DEFAULT = new RegExp(
  `(?<name>${wordAfter(`variable[ \\t]{1,20}"[^"\\n]{0,40}`)}[^"\\n]{0,40})"${SP}\\{[^{}]{0,400}?\\bdefault${SP}=${SP}"${VALUE}"`,
  flags,
);

/** Dockerfile's old form `ENV API_TOKEN value` (and `ARG`): a blank between name and value. */
const DOCKERFILE_ENV = new RegExp(
  `^[ \\t]{0,20}(?:ENV|ARG)[ \\t]{1,20}(?<name>[A-Za-z0-9_.-]{0,40}?${WORD}${REST})[ \\t]{1,20}(?<quote>["']?)${VALUE}\\k<quote>${SP}(?=\\r?\\n|$)`,
  "gim",
);

/** `.netrc` entries on one line (`machine host login user password …`), in any file. */
const NETRC_LINE =
  /\bmachine[ \t]{1,20}(?=(?<host>\S{1,253}))\k<host>(?:[ \t]{1,20}(?:login|account)[ \t]{1,20}(?=(?<login>\S{1,253}))\k<login>){0,2}[ \t]{1,20}(?<name>password)[ \t]{1,20}(?<secret>[^\s"'`]{8,128})(?!\S)/g;

/** In a `.netrc` file, `password …` anywhere (one field a line, or several). */
const NETRC_FILE = /(?<name>password)(?<=(?:^|[ \t])password)[ \t]{1,20}(?<secret>[^\s"'`]{8,128})(?!\S)/gm;

/**
 * A Kubernetes Secret: every `name: value` under `data:` is base64 of a secret (under
 * `stringData:`, the secret itself), whatever its name. Decoded and judged in confirm().
 */
const KUBERNETES_SECRET =
  /^[ \t]{1,40}(?<name>[A-Za-z0-9_.-]{1,253}):[ \t]{1,20}(?<quote>["']?)(?<secret>[^\s"']{8,4096})\k<quote>(?:[ \t]+#[^\r\n]*)?[ \t]*(?=\r?\n|$)/gm;

// A value that names what it is (`AuthenticationMD5Password`, `test-secret`) is an identifier.
const NAMES_ITSELF = /passw|secret|token|api_?key/i;

/**
 * Words and numbers joined by separators: names, not keys. Either every part is letters or
 * digits (`X-Hub-Signature-256`, `projects/1/secrets/db`), or three parts or more are words in
 * one case but one short tag (`keyhold-vault/v1/passphrase`, `fuzz-value-weather-7Q2Z`): random
 * base64url parts are of mixed case and rarely without a digit.
 */
function identifierLike(value: string): boolean {
  const parts = value.split(/[-_./:]+/).filter((p) => p.length > 0);
  if (parts.length < 2) return false;
  if (parts.every((p) => /^[0-9]+$/.test(p) || /^[A-Za-z]+$/.test(p))) return true;
  const tags = parts.filter((p) => !/^(?:[a-z]+|[A-Z]+)$/.test(p));
  return parts.length >= 3 && tags.length === 1 && tags[0]!.length <= 4;
}

// Names of values that look random but are public: hashes, checksums, ids, versions.
const NOT_SECRET_NAME =
  /[Hh]ash|HASH|(?<![A-Za-z])(?:sha|SHA)(?:1|256|384|512)?(?![A-Za-z])|[Dd]igest|DIGEST|[Cc]hecksum|CHECKSUM|[Cc]ommit|COMMIT|[Ee]tag|ETAG|[Ff]ingerprint|FINGERPRINT|[Vv]ersion|VERSION|(?:^|[_.-])(?:id|ID)$|[a-z]Id$|[Pp]ublic|PUBLIC|[Cc]srf|CSRF|[Xx]srf|XSRF/;

/**
 * Last words of names of something about a secret, not the secret: where it is (`…_FILE`,
 * `…_PATH`, `…_URL`, `…_ENV`), what it is called (`LLM_SECRET_NAME = "NEXUS-GPT4-API-KEY"`), how
 * it is sent or shaped (`…_HEADER`, `…_TYPE`, `…_PREFIX`, `…_LENGTH`). A URL holding a password
 * is url-credentials' finding.
 */
const ABOUT_A_SECRET = new Set(
  "name url uri endpoint host file filename path dir env var header field param type length len size ttl expiry expires timeout prefix suffix format pattern regex label ref arn location store provider source".split(
    " ",
  ),
);

/** The last word of a name (`LLM_SECRET_NAME`, `apiKeyPaths`), lower case and without a plural s. */
function lastWord(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").split(/[^A-Za-z0-9]+/);
  const last = (words.filter((w) => w.length > 0).pop() ?? "").toLowerCase();
  return last.length > 3 && last.endsWith("s") ? last.slice(0, -1) : last;
}

/**
 * Values that refer to a secret kept elsewhere: `${X}`, `$X`, `%(x)s`, `{{ x }}`, and the
 * expressions of languages and tools that read one (`process.env.X`, `os.environ[…]`,
 * `os.getenv(…)`, `var.x`, `secrets.X`, …).
 */
const REFERENCE =
  /^(?:\$|%\(|\{\{|<%|(?:process\.env|import\.meta\.env|os\.environ|os\.getenv|System\.getenv|Deno\.env|ENV|env|secrets|vars?|local|data|module|config|settings|self|this|params|props|args|context|ctx|options|opts|cfg)(?:[.[(]|$))/;

// Hex digits carry at most 4 bits a character: a random 32-digit hex token measures 3.0-3.8, so
// 3.3 missed about one in six.
const HEX = /^(?:[0-9a-f]+|[0-9A-F]+)$/;

/**
 * A file path (`./keys/dev.pem`, `~/.ssh/id`, `/run/secrets/db`): relative, home, or absolute
 * with lower-case segments. Base64 may start with `/` too (`/vTK/YOeb…`, mixed case): judged as a key.
 */
function pathLike(value: string): boolean {
  return /^(?:\.{1,2}|~)\//.test(value) || /^(?:\/[a-z0-9_.-]+){2,}\/?$/.test(value);
}

/**
 * Ciphertext, not a key: without its key it holds nothing (the key is a finding wherever it is
 * assigned). A Fernet token (version byte 0x80 and a timestamp, base64url: `gAAAAA…`), and a
 * Windows DPAPI blob (its fixed header, base64: `AQAAANCMnd8BFdERjHoAwE/Cl+sBAAAA…`), which
 * NuGet.Config writes for an encrypted `Password` and only that user on that machine can open.
 */
const CIPHERTEXT = /^(?:gAAAAA[A-Za-z0-9_-]{50,}={0,2}|AQAAANCMnd8BFdERjHoAwE\/Cl\+sBAAAA[A-Za-z0-9+/]{16,}={0,2})$/;

/** Whether a value read from a key-like name looks like a key rather than a word, name or reference. */
function looksLikeKey(value: string): boolean {
  return (
    /[A-Za-z]/.test(value) &&
    /[0-9]/.test(value) &&
    entropyOf(value) >= (HEX.test(value) ? 3 : 3.3) &&
    !looksLikePlaceholder(value) &&
    !REFERENCE.test(value) &&
    !pathLike(value) &&
    !CIPHERTEXT.test(value) &&
    !identifierLike(value) &&
    !NAMES_ITSELF.test(value)
  );
}

const KEY_WORD = new RegExp(WORD, "i");

/**
 * A value of a Kubernetes Secret: base64 (under `data:`) that decodes to text is judged as that
 * text; a value that does not decode to text is judged as written (`stringData:`). A private
 * key is always a secret; a value under a key-like name needs 8 characters and no stand-in;
 * any other needs to look like a key.
 */
function secretDataIsSecret(value: string, name: string): boolean {
  let text = value;
  if (value.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    if (/^[\x20-\x7e\t\r\n]+$/.test(decoded)) text = decoded.trim();
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) return true;
  if (/\s/.test(text)) return false;
  if (KEY_WORD.test(name) || /pass|pwd/i.test(name))
    return (
      text.length >= 8 && !looksLikePlaceholder(text) && !REFERENCE.test(text) && !NAMES_ITSELF.test(text)
    );
  return text.length >= 16 && looksLikeKey(text);
}

export default defineRule({
  id: "generic-secret-assignment",
  title: "high-entropy value assigned to a key-like name",
  provider: "the service the value belongs to",
  keywords: /key|secret|token|pass|pwd|credential|auth/i,
  pattern: ASSIGNMENT,
  // Each form runs only on a text that holds what it starts with (`when`, one linear test per file).
  forms: [
    { context: "authorization", pattern: AUTHORIZATION, when: /authorization/i },
    { context: "xml-element", pattern: XML_ELEMENT, when: /<\/[A-Za-z_]/ },
    { context: "xml-name-value", pattern: XML_NAME_VALUE, when: /\bvalue[ \t]*=/i },
    { context: "xml-name-text", pattern: XML_NAME_TEXT, when: /<\/[A-Za-z_]/ },
    { context: "yaml-block", pattern: YAML_BLOCK, when: /:[ \t]*[|>]/ },
    { context: "hcl-default", pattern: HCL_DEFAULT, when: /\bvariable[ \t]+"/i },
    { context: "dockerfile-env", pattern: DOCKERFILE_ENV, when: /^[ \t]*(?:ENV|ARG)[ \t]/im },
    { context: "netrc", pattern: NETRC_LINE, when: /\bmachine[ \t]/ },
    { context: "netrc", pattern: NETRC_FILE, paths: /(?:^|\/)[._]netrc$/ },
    {
      context: "kubernetes-secret",
      pattern: KUBERNETES_SECRET,
      when: /^kind:[ \t]*["']?Secret["']?[ \t]*$/m,
      alone: true,
    },
  ],
  confirm: (secret, groups, before, context) => {
    const name = `${/[A-Za-z0-9_.$-]*$/.exec(before)?.[0] ?? ""}${groups.name ?? ""}`.replace(/^\$/, "");
    if (NOT_SECRET_NAME.test(name) || ABOUT_A_SECRET.has(lastWord(name))) return false;
    if (context === "kubernetes-secret") return secretDataIsSecret(secret, name);
    // `("X_TOKEN", "…")` and `{ "ApiKey", "…" }`: a quoted value right after a quoted name that
    // opens a call or an initializer; a variable there, or a list of strings, is no assignment.
    if (groups.comma !== undefined && (!groups.quote || !/[({][ \t]*\\?["'`][A-Za-z0-9_.$/-]*$/.test(before)))
      return false;
    return looksLikeKey(secret);
  },
  revoke: "revoke the value at the service that issued it and issue a new one",
});
