/*
 * The `data:` values of Kubernetes Secret manifests. Each is base64 of the secret, which may be a
 * key alone, `NAME=value`, a whole `.env` or `.git-credentials` file: the rules see none of it in
 * the base64, so detect.ts scans each decoded value with every rule (as a file named after its
 * key, which is the name it is mounted under) and reports a match at the base64 value it came
 * from. The generic rule's `kubernetes-secret` form still judges each value as a whole (a
 * password under `db-pass:` matches no rule inside it).
 *
 * Read line by line, one pass, no backtracking across lines: a document (between `---` lines)
 * counts when it has a `kind: Secret` line, and its `data:` block is the lines indented deeper
 * than `data:` that follow it.
 */

/** One base64 value of a Secret's `data:`. */
export interface SecretDataValue {
  /** The key it is stored under (`api-token`, `.env`). */
  name: string;
  /** Byte offsets (latin1 text) of the base64 value in the manifest. */
  start: number;
  end: number;
  decoded: Buffer;
}

/** Whether a text may hold a Kubernetes Secret: one linear test before any line is read. */
export const SECRET_KIND = /^[ \t]*(?:-[ \t]+)?kind:[ \t]*["']?Secret["']?[ \t]*(?:#[^\r\n]*)?\r?$/m;

const KIND_LINE = /^[ \t]*(?:-[ \t]+)?kind:[ \t]*["']?Secret["']?[ \t]*(?:#.*)?$/;
const DOCUMENT_END = /^(?:---|\.\.\.)(?:[ \t]|$)/;
// `data:` alone on its line (a block of entries follows); `- data:` opens an item of a list.
const DATA_LINE = /^(?<indent>[ \t]*(?:-[ \t]+)?)data:[ \t]*(?:#.*)?$/;
// `  name: base64` (a key may be quoted; the value too). Each part ends at a character the next
// cannot start with, so a line is matched in one pass.
const ENTRY =
  /^(?<indent>[ \t]+)(?<q>["']?)(?<name>[A-Za-z0-9_.-]{1,253})\k<q>:[ \t]+(?<vq>["']?)(?<value>[A-Za-z0-9+/]+={0,2})\k<vq>[ \t]*(?:#.*)?$/d;

/** A value's indent: its leading blanks (and a list item's `- `), in characters. */
function indentOf(line: string): number {
  let i = 0;
  while (i < line.length && (line[i] === " " || line[i] === "\t" || (line[i] === "-" && line[i + 1] === " ")))
    i++;
  return i;
}

/**
 * The `data:` values of every Secret in `text` (latin1, so offsets are byte offsets) that are
 * well-formed base64 of 8 characters or more and decode to something other than binary (no NUL
 * byte).
 */
export function secretDataValues(text: string): SecretDataValue[] {
  if (!text.includes("Secret") || !SECRET_KIND.test(text)) return [];
  const found: SecretDataValue[] = [];
  let pending: SecretDataValue[] = [];
  let isSecret = false;
  let dataIndent = -1;
  const endDocument = () => {
    if (isSecret) found.push(...pending);
    pending = [];
    isSecret = false;
    dataIndent = -1;
  };
  for (let start = 0; start <= text.length; ) {
    const nl = text.indexOf("\n", start);
    const end = nl < 0 ? text.length : nl;
    const line = text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end);
    if (DOCUMENT_END.test(line)) endDocument();
    else if (KIND_LINE.test(line)) isSecret = true;
    else if (line.trim() !== "" && !line.trimStart().startsWith("#")) {
      const indent = indentOf(line);
      if (dataIndent >= 0 && indent <= dataIndent) dataIndent = -1;
      const data = DATA_LINE.exec(line);
      if (data) dataIndent = data.groups!.indent!.length;
      else if (dataIndent >= 0) {
        const entry = ENTRY.exec(line);
        const span = entry?.indices?.groups?.value;
        const length = span ? span[1] - span[0] : 0;
        if (entry && span && length >= 8 && length % 4 === 0) {
          const decoded = Buffer.from(line.slice(span[0], span[1]), "base64");
          if (!decoded.includes(0))
            pending.push({
              name: entry.groups!.name!,
              start: start + span[0],
              end: start + span[1],
              decoded,
            });
        }
      }
    }
    if (nl < 0) break;
    start = nl + 1;
  }
  endDocument();
  return found;
}
