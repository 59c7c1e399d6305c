import { createHash } from "node:crypto";
import { CONTEXT_TEMPLATES, expandTemplate, KEY_TEMPLATES, type SeededRandom } from "./synthetic.js";

/*
 * Generated text for the planted-key corpus and the benchmark tree: ordinary code and
 * configuration, plus decoys that secret scanners commonly mistake for keys (hashes, UUIDs,
 * commit ids, integrity strings, data URIs, placeholders, documentation example keys).
 */

const WORDS = [
  "request",
  "response",
  "handler",
  "config",
  "value",
  "items",
  "result",
  "buffer",
  "stream",
  "client",
  "server",
  "session",
  "options",
  "record",
  "index",
  "cache",
  "parser",
  "output",
  "context",
  "message",
];

function word(r: SeededRandom): string {
  return r.pick(WORDS);
}

/** One line of ordinary code or a decoy, chosen at random. */
export function decoyLine(r: SeededRandom): string {
  switch (r.below(28)) {
    case 24:
      return `  "token_hash": "${r.chars("hex", 40)}",`;
    case 25:
      return `const SECRET_HEADER = "X-Hub-Signature-256";`;
    case 26:
      return `secret_version = "projects/${r.below(9999)}/secrets/${word(r)}/versions/${r.below(9)}"`;
    case 27:
      return `private_key_path = "/etc/ssl/private/${word(r)}-${2020 + r.below(6)}.key"`;
    case 0:
      return `const ${word(r)}Digest = "${createHash("sha256").update(r.chars("alnum", 12)).digest("hex")}";`;
    case 1:
      return `  "id": "${r.chars("hex", 8)}-${r.chars("hex", 4)}-4${r.chars("hex", 3)}-a${r.chars("hex", 3)}-${r.chars("hex", 12)}",`;
    case 2:
      return `// fixed in commit ${r.chars("hex", 40)}`;
    case 3:
      return `    "integrity": "sha512-${r.chars("b64", 86)}==",`;
    case 4:
      return `  background: url("data:image/png;base64,${r.chars("b64", 120)}");`;
    case 5:
      return `API_KEY = "your-api-key-here"  # replace before running`;
    case 6:
      return "aws_access_key_id = AKIAIOSFODNN7EXAMPLE";
    case 7:
      return `token_type = "bearer"`;
    case 8:
      return `password = os.environ["DB_PASSWORD"]`;
    case 9:
      return `export function ${word(r)}${r.chars("upper", 1)}${word(r)}(${word(r)}: string): number {`;
    case 10:
      return `  return ${word(r)}.${word(r)}(${word(r)}, ${r.below(1000)});`;
    case 11:
      return `  if (${word(r)}.length > ${r.below(100)}) throw new Error("${word(r)} too long");`;
    case 12:
      return `const secretName = "${word(r)}_${word(r)}_key";`;
    case 13:
      return `  color: #${r.chars("hex", 6)};`;
    case 14:
      return `version: ${r.below(10)}.${r.below(20)}.${r.below(50)}`;
    case 15:
      return `url = "https://example.com/${word(r)}/${r.below(9999)}?page=${r.below(50)}"`;
    case 16:
      return `DATABASE_URL=postgres://postgres:postgres@localhost:5432/${word(r)}`;
    case 17:
      return `  ${word(r)}Token: string | undefined;`;
    case 18:
      return `sha1sum: ${r.chars("hex", 40)}`;
    case 19:
      return `  const tokenCount = ${word(r)}.split(" ").length;`;
    case 20:
      return `# the ghp_ prefix marks a GitHub personal access token`;
    case 21:
      return `  key: "${word(r)}.${word(r)}.${word(r)}",`;
    case 22:
      return `  nonce = base64.b64encode(os.urandom(16))`;
    default:
      return `  ${word(r)} = ${word(r)} + ${r.below(100)};`;
  }
}

export function decoyText(r: SeededRandom, lines: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) out.push(decoyLine(r));
  return `${out.join("\n")}\n`;
}

/** A synthetic key of `rule`, in a line of context that rule needs (or a plain assignment). */
export function plantedLine(rule: string, r: SeededRandom): string {
  const context = CONTEXT_TEMPLATES[rule];
  if (context !== undefined) return expandTemplate(context, r);
  const key = expandTemplate(KEY_TEMPLATES[rule]!, r);
  switch (r.below(4)) {
    case 0:
      return `const client = new Client({ key: "${key}" });`;
    case 1:
      return `export SERVICE_CREDENTIAL='${key}'`;
    case 2:
      return `  "credential": "${key}",`;
    default:
      return `credential: ${key}`;
  }
}

/** Every rule that has a synthetic key (a template or a context). */
export const PLANTABLE_RULES = [...Object.keys(KEY_TEMPLATES), ...Object.keys(CONTEXT_TEMPLATES)];
