import { entropyOf, KEY_PREFIXED_WORD, SecretError } from "../secret/index.js";
import { assertUnitPath, usage } from "./text.js";

/**
 * The command line of ExecStart=: split into words, written in unit file syntax, and refused when
 * a word looks like a key (a unit file and /proc/PID/cmdline are readable by every user).
 */

/**
 * Splits a command line into words the way a shell would for plain words and '…' / "…" quotes
 * (no expansions), refusing what a unit file cannot say unambiguously.
 */
export function splitCommandLine(line: string): string[] {
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line))
    throw usage("--exec may not contain newlines or control characters");
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line.charAt(i);
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === "\\" && (line.charAt(i + 1) === '"' || line.charAt(i + 1) === "\\"))
        word += line.charAt(++i);
      else word += ch;
    } else if (ch === " " || ch === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      inWord = true;
      if (ch === "'" || ch === '"') quote = ch;
      else if (ch === "\\") {
        const next = line.charAt(i + 1);
        if (next === "") throw usage("--exec ends with a lone backslash");
        word += next;
        i++;
      } else word += ch;
    }
  }
  if (quote !== undefined) throw usage(`--exec has an unterminated ${quote} quote`);
  if (inWord) words.push(word);
  // A quoted or escaped tab would put a raw control character in the unit file.
  if (words.some((w) => w.includes("\t"))) throw usage("--exec may hold a tab only between words");
  return words;
}

// A canary of the test suite (kh-…) counts as a key too, whatever its letters happen to be.
const TEST_CANARY = /^kh-[a-z]+-[A-Za-z0-9_-]{16,}$/;

/**
 * Whether a command word looks like a key rather than a path, flag or plain word, or holds one: an
 * escaped blank (`a\ KEY`) or a quote (`"Bearer KEY"`) makes one word of several pieces, and the
 * key is in the unit file and the process's argv all the same, so each piece is judged too.
 */
export function looksLikeSecret(word: string): boolean {
  return [word, ...word.split(/[\s"'`,;:]+/)].some(looksLikeSecretPiece);
}

function looksLikeSecretPiece(word: string): boolean {
  const value = word.includes("=") ? word.slice(word.indexOf("=") + 1) : word;
  // Well-known key formats (the scanner's prefixes, src/secret/secret-words.ts), then randomness.
  if (KEY_PREFIXED_WORD.test(value) || TEST_CANARY.test(value)) return true;
  if (value.length < 24 || value.includes("/") || value.includes(".")) return false;
  if (!/^[A-Za-z0-9+_=-]+$/.test(value)) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((re) => re.test(value)).length;
  return classes >= 2 && /[0-9]/.test(value) && entropyOf(value) >= 3.8;
}

/**
 * Validates a command line and returns it as ExecStart= syntax. A unit file is world-readable and
 * /proc/PID/cmdline is readable by every user: a word that looks like a key is refused, and its
 * value is never repeated in the error.
 */
export function renderExecLine(line: string): string {
  const words = splitCommandLine(line);
  const first = words[0];
  if (first === undefined) throw usage("--exec is empty");
  assertUnitPath(first, "the first word of --exec");
  words.forEach((w, i) => {
    if (looksLikeSecret(w) || secretOptionValue(words[i - 1], w)) {
      throw new SecretError("SECRET_IN_COMMAND", `word ${i + 1} of --exec looks like a secret value`, {
        hint: "pass keys with --cred and read them from $CREDENTIALS_DIRECTORY: unit files and /proc/PID/cmdline are readable by every user",
      });
    }
    if (w === ";")
      throw usage(`word ${i + 1} of --exec is a lone ';', which systemd reads as a command separator`);
  });
  return words.map(quoteExecWord).join(" ");
}

// Options whose value is a secret by name: `--token VALUE`, `--api-key=VALUE`, `--password=VALUE`.
const SECRET_OPTION =
  /^--?([a-z]+[-_])*(api[-_]?key|token|secret|password|passwd|pass|auth|access[-_]?key|client[-_]?secret)$/i;

/** Whether `word` (or its `=value` part) is the value of an option named like a secret. */
function secretOptionValue(previous: string | undefined, word: string): boolean {
  const isValue = (v: string) => v.length > 0 && !v.startsWith("/") && !v.includes("%d");
  const eq = word.indexOf("=");
  if (word.startsWith("-") && eq > 0)
    return SECRET_OPTION.test(word.slice(0, eq)) && isValue(word.slice(eq + 1));
  return previous !== undefined && SECRET_OPTION.test(previous) && !word.startsWith("-") && isValue(word);
}

/**
 * One word of ExecStart=: '$' is escaped and so is every '%' except `%d`, systemd's specifier for
 * the credentials directory (`--key-file=%d/my_api_key`), so systemd neither expands variables nor
 * other specifiers.
 */
function quoteExecWord(word: string): string {
  return quoteEscaped(
    word,
    word
      .split("%d")
      .map((part) => part.replaceAll("%", "%%"))
      .join("%d"),
  );
}

/**
 * An argument keyhold itself passes on ExecStart= (a command line given to `rotate --from-command`,
 * say), which systemd must hand over byte for byte as one word: every '%' and '$' escaped, `%d`
 * included, and quoted when it holds anything but plain characters. Control characters are the
 * caller's to refuse (splitCommandLine does).
 */
export function quoteExecArgument(word: string): string {
  return quoteEscaped(word, word.replaceAll("%", "%%"));
}

/** `escaped` (word with its specifiers escaped) with '$' escaped too, quoted unless plain. */
function quoteEscaped(word: string, escaped: string): string {
  const text = escaped.replaceAll("$", "$$$$");
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) && word.length > 0) return text;
  return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}
