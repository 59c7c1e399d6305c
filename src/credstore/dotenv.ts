import { Secret, SecretError } from "../secret/index.js";
import { credentialNameProblem } from "../systemd/index.js";

export interface DotenvEntry {
  /** The variable as written in the file (OPENAI_API_KEY). */
  variable: string;
  /** The credential name keyhold stores it under: the variable in lower case (openai_api_key). */
  name: string;
  value: Secret;
  line: number;
}

const ASSIGNMENT = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/;
const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" };

function bad(file: string, line: number, why: string): SecretError {
  // Report where, never what: the line may hold the value.
  return new SecretError("INVALID_FORMAT", `${file}:${line}: ${why}`, { hint: "expected KEY=value lines" });
}

function unquote(file: string, line: number, raw: string): string {
  const text = raw.trim();
  const q = text[0];
  if (q === '"' || q === "'" || q === "`") {
    // In double quotes a backslash escapes the next character, so \" does not close the value.
    let end = 1;
    while (end < text.length && text[end] !== q) end += q === '"' && text[end] === "\\" ? 2 : 1;
    if (end >= text.length) end = -1;
    if (end < 0) throw bad(file, line, "unterminated quoted value");
    const rest = text.slice(end + 1).trim();
    if (rest !== "" && !rest.startsWith("#")) throw bad(file, line, "unexpected text after the quoted value");
    const inner = text.slice(1, end);
    return q === '"' ? inner.replace(/\\(.)/g, (m, c: string) => ESCAPES[c] ?? m) : inner;
  }
  const hash = text.search(/\s#/);
  return (hash >= 0 ? text.slice(0, hash) : text).trim();
}

/**
 * Parses a dotenv file: KEY=value, `export KEY=value`, single, double (with \n escapes) and
 * backtick quotes, comments and blank lines. Multi-line values are refused rather than guessed.
 * Any malformed line, empty value, duplicate or invalid name fails the whole file, so an import
 * either takes every entry or none.
 */
export function parseDotenv(file: string, text: string): DotenvEntry[] {
  const entries: DotenvEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  try {
    lines.forEach((raw, i) => {
      const line = i + 1;
      const trimmed = raw.trim();
      if (trimmed === "" || trimmed.startsWith("#")) return;
      const m = ASSIGNMENT.exec(trimmed);
      if (!m) throw bad(file, line, "not a KEY=value assignment");
      const variable = m[1] as string;
      const name = variable.toLowerCase();
      const problem = credentialNameProblem(name);
      if (problem) throw bad(file, line, `${variable} is not a usable credential name: ${problem}`);
      if (seen.has(name)) throw bad(file, line, `${variable} is assigned twice`);
      seen.add(name);
      const value = unquote(file, line, m[2] ?? "");
      if (value === "") throw bad(file, line, `${variable} has an empty value`);
      entries.push({ variable, name, value: Secret.fromString(value), line });
    });
  } catch (err) {
    for (const e of entries) e.value.dispose();
    throw err;
  }
  if (entries.length === 0) throw new SecretError("INVALID_FORMAT", `${file}: no KEY=value entries found`);
  return entries;
}
