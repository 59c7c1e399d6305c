import {
  type AnyDef,
  flagText,
  isGroup,
  loadSubcommand,
  type OptionSpec,
  type OptionTable,
  optionsOf,
} from "./command.js";
import { commands } from "./commands.js";

/*
 * The man page keyhold(1) and the bash and zsh completions, rendered from the command table that
 * also answers --help, so none of them can drift from what the parser accepts.
 * scripts/share.mjs writes them under dist/share/ at build time.
 */

/** One row as the reference lists it: its words, its summary, its definition. */
export interface Row {
  /** "set" or "vault put". */
  words: string;
  summary: string;
  def: AnyDef;
}

export interface Reference {
  rows: Row[];
  /** Top-level words and summaries, in the order `keyhold help` lists them. */
  commands: Array<{ word: string; summary: string }>;
  /** Each group's subcommand words and summaries. */
  groups: Record<string, Array<{ word: string; summary: string }>>;
}

/** Loads every command's definition (the CLI itself loads only the one it runs). */
export async function loadReference(): Promise<Reference> {
  const rows: Row[] = [];
  const groups: Reference["groups"] = {};
  for (const [word, entry] of Object.entries(commands)) {
    const command = await entry.load();
    if (!isGroup(command)) {
      rows.push({ words: word, summary: entry.summary, def: command });
      continue;
    }
    groups[word] = [];
    for (const entry of command.subcommands) {
      groups[word].push({ word: entry.word, summary: entry.summary });
      rows.push({ words: `${word} ${entry.word}`, summary: entry.summary, def: await loadSubcommand(entry) });
    }
  }
  const list = Object.entries(commands).map(([word, e]) => ({ word, summary: e.summary }));
  return { rows, commands: list, groups };
}

/** Text for roff: backslashes and dashes escaped, no line starting with a control character. */
function roff(text: string): string {
  return (
    text
      .replaceAll("\\", "\\e")
      .replaceAll("-", "\\-")
      // Plain ASCII in, so no input encoding is assumed: "…" becomes \[u2026].
      .replace(
        /[^\x00-\x7f]/gu,
        (c) => `\\[u${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, "0")}]`,
      )
      .split("\n")
      .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
      .join("\n")
  );
}

const EXIT_STATUS: ReadonlyArray<[string, string]> = [
  ["0", "success (for run and trigger \\-\\-follow: the command's or the job's own status)"],
  ["1", "failure; the error is one line on stderr: keyhold: MESSAGE [CODE], then an optional hint line"],
  ["2", "usage error; also any failure of scan, so that a scan that could not run never looks clean"],
  ["3", "findings: doctor, scan, audit \\-\\-verify, vault verify and vault audit verify found problems"],
  ["4", "trigger \\-\\-follow: the output stream was cut before the run ended (the run goes on)"],
  ["141", "the reader of keyhold's output went away (keyhold ... | head); nothing is printed about it"],
];

const ENVIRONMENT: ReadonlyArray<[string, string]> = [
  ["KEYHOLD_STORE", "the credential store (default /etc/credstore.encrypted; empty counts as unset)"],
  [
    "KEYHOLD_STATE",
    "keyhold's state directory: history, audit log and keys, vault (default /var/lib/keyhold; empty counts as unset)",
  ],
  ["KEYHOLD_JOBS_SOCKET", "the job server's socket (default /run/keyhold/jobs.sock)"],
  ["KEYHOLD_JOBS_CONFIG", "the job server's configuration (default /etc/keyhold/jobs.json)"],
  [
    "KEYHOLD_KEY_CACHE",
    "off: decrypt keyhold's own keys (audit key, vault master, scan key) with systemd-creds every time instead of keeping them for the boot in /run/keyhold/ramfs/keys (on or empty: kept; any other value is refused)",
  ],
  [
    "KEYHOLD_CODE_CACHE",
    "off: start from the split bundle instead of compiling the CLI with the V8 code cache made at build time (on or empty: the cache; any other value is refused)",
  ],
  ["KEYHOLD_TRACE_TIMING", "1: after the command, where its time went, one phase per line on stderr"],
];

/** keyhold(1): every command with its synopsis, its help and every option. */
export function renderManPage(ref: Reference, version: string): string {
  const out: string[] = [
    ".\\\" keyhold(1), rendered from keyhold's command table (src/cli/reference.ts); do not edit.",
    `.TH KEYHOLD 1 "" "keyhold ${version}" "User Commands"`,
    ".nh",
    ".ad l",
    ".SH NAME",
    "keyhold \\- keep API keys encrypted at rest with systemd credentials, and hand them only to the processes that need them",
    ".SH SYNOPSIS",
    ".B keyhold",
    ".I COMMAND",
    "[\\fIARGS\\fR...]",
    ".br",
    ".B keyhold",
    ".I COMMAND",
    ".B \\-\\-help",
    ".SH DESCRIPTION",
    roff(
      "keyhold keeps credentials encrypted at rest with systemd-creds (a host key, a TPM, or both) and hands them to a process as files in a private $CREDENTIALS_DIRECTORY, never in its arguments or environment. Every operation that reads or changes a credential is recorded in a keyed, hash-chained audit log, with names and codes but never values.",
    ),
    ".PP",
    roff("Values are read from a no-echo prompt or from stdin, never from arguments. Commands:"),
  ];
  for (const c of ref.commands) out.push(".TP", `.B ${roff(c.word)}`, roff(c.summary));
  out.push(".SH COMMANDS");
  for (const row of ref.rows) {
    const args = row.def.synopsis.slice(row.words.length).trim();
    out.push(`.SS "keyhold ${roff(row.words)}"`, `.B "keyhold ${roff(row.words)}"`);
    if (args !== "") out.push(roff(args));
    out.push(".PP", roff(row.def.help ?? row.summary));
    if (row.def.help !== undefined && row.def.help !== row.summary) out.push(".PP", roff(row.summary));
    for (const [name, spec] of Object.entries(optionsOf(row.def))) {
      out.push(".TP", `.B ${roff(flagText(name, spec))}`, roff(spec.description));
    }
  }
  out.push(".SH EXIT STATUS");
  for (const [code, text] of EXIT_STATUS) out.push(".TP", `.B ${code}`, text);
  out.push(".SH ENVIRONMENT");
  for (const [name, text] of ENVIRONMENT) out.push(".TP", `.B ${name}`, roff(text));
  out.push(
    ".SH SEE ALSO",
    ".BR systemd\\-creds (1),",
    ".BR systemd.exec (5),",
    ".BR systemd.unit (5)",
    ".PP",
    roff("The documentation in the docs/ directory of keyhold's source."),
    "",
  );
  return out.join("\n");
}

/** A word list for the shell, sorted for stable output. */
const words = (list: Iterable<string>) => [...list].join(" ");

function flags(options: OptionTable): string[] {
  return Object.entries(options).flatMap(([name, s]) => [`--${name}`, ...(s.short ? [`-${s.short}`] : [])]);
}

/** The bash statement that completes a value of this kind into COMPREPLY. */
function bashValues(kind: OptionSpec["complete"]): string {
  if (kind === "file") return 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))';
  if (kind === "directory") return 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur"))';
  if (kind === undefined) return "COMPREPLY=()";
  return `COMPREPLY=($(compgen -W "${words(kind)}" -- "$cur"))`;
}

/** The variables that say what a command's positionals complete to. */
function bashPositionals(kind: OptionSpec["complete"]): string {
  if (kind === undefined) return "";
  if (kind === "file" || kind === "directory") return `pkind=${kind}`;
  return `pkind=words pwords="${words(kind)}"`;
}

/** bash completion: `complete -F _keyhold keyhold`. */
export function renderBashCompletion(ref: Reference): string {
  const cases: string[] = [];
  for (const row of ref.rows) {
    const options = optionsOf(row.def);
    const valueCases = Object.entries(options)
      .filter(([, s]) => s.type === "string")
      .map(([name, s]) => `        --${name}) ${bashValues(s.complete)}; return ;;`);
    cases.push(
      `    "${row.words}")`,
      `      opts="${words(flags(options))}"`,
      ...(row.def.passthrough ? ["      passthrough=1"] : []),
      ...(row.def.completePositionals === undefined
        ? []
        : [`      ${bashPositionals(row.def.completePositionals)}`]),
      ...(valueCases.length === 0 ? [] : ["      case $prev in", ...valueCases, "      esac"]),
      "      ;;",
    );
  }
  const groupCases = Object.entries(ref.groups).map(
    ([group, subs]) =>
      `    ${group}) if ((COMP_CWORD == 2)); then COMPREPLY=($(compgen -W "${words(subs.map((s) => s.word))} help" -- "$cur")); return; fi; key="${group} \${COMP_WORDS[2]}" ;;`,
  );
  return `# bash completion for keyhold, rendered from keyhold's command table (src/cli/reference.ts); do not edit.
_keyhold() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local key=\${COMP_WORDS[1]-} opts="" passthrough=0 pkind="" pwords="" i
  COMPREPLY=()
  if ((COMP_CWORD == 1)); then
    COMPREPLY=($(compgen -W "${words(ref.commands.map((c) => c.word))} help --help --version" -- "$cur"))
    return
  fi
  case $key in
${groupCases.join("\n")}
  esac
  case $key in
${cases.join("\n")}
    *) return ;;
  esac
  if ((passthrough)); then
    # After --: the command to run, then its own arguments.
    for ((i = 2; i < COMP_CWORD; i++)); do
      if [[ \${COMP_WORDS[i]} == -- ]]; then
        if ((i == COMP_CWORD - 1)); then COMPREPLY=($(compgen -c -- "$cur")); else ${bashValues("file")}; fi
        return
      fi
    done
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    case $pkind in
      file) ${bashValues("file")} ;;
      directory) ${bashValues("directory")} ;;
      words) COMPREPLY=($(compgen -W "$pwords" -- "$cur")) ;;
    esac
  fi
}
complete -F _keyhold keyhold
`;
}

/** Text inside an _arguments spec: the characters it treats specially, escaped. */
function zshText(text: string): string {
  return text.replace(/[[\]:\\]/g, (c) => `\\${c}`).replaceAll("'", "'\\''");
}

function zshAction(kind: OptionSpec["complete"]): string {
  if (kind === "file") return "_files";
  if (kind === "directory") return "_files -/";
  if (kind === undefined) return " ";
  return `(${words(kind)})`;
}

function zshSpecs(def: AnyDef): string[] {
  const specs: string[] = [];
  for (const [name, s] of Object.entries(optionsOf(def))) {
    const repeat = s.multiple ? "*" : "";
    const value = s.type === "string" ? `:${zshText(s.arg ?? "VALUE")}:${zshAction(s.complete)}` : "";
    specs.push(`'${repeat}--${name}[${zshText(s.description)}]${value}'`);
    if (s.short) specs.push(`'${repeat}-${s.short}[${zshText(s.description)}]${value}'`);
  }
  if (def.passthrough) specs.push("'*::command:_normal'");
  else if (def.completePositionals !== undefined)
    specs.push(`'*:argument:${zshAction(def.completePositionals)}'`);
  return specs;
}

/** zsh completion: the file _keyhold for a directory in $fpath. */
export function renderZshCompletion(ref: Reference): string {
  const described = (list: Array<{ word: string; summary: string }>) =>
    list
      .map((c) => `    '${zshText(c.word)}:${c.summary.replaceAll("'", "'\\''").replaceAll(":", "\\:")}'`)
      .join("\n");
  const cases = ref.rows.map(
    (row) => `    '${row.words}') _arguments -s : \\\n      ${zshSpecs(row.def).join(" \\\n      ")} ;;`,
  );
  const groups = Object.entries(ref.groups).map(
    ([group, subs]) => `  if [[ $words[1] == ${group} ]]; then
    if ((CURRENT == 2)); then
      local -a subcommands
      subcommands=(
${described(subs)}
      )
      _describe -t commands '${group} subcommand' subcommands
      return
    fi
    key="${group} $words[2]"
    shift words
    ((CURRENT--))
  fi`,
  );
  return `#compdef keyhold
# zsh completion for keyhold, rendered from keyhold's command table (src/cli/reference.ts); do not edit.
_keyhold() {
  local -a commands
  commands=(
${described(ref.commands)}
  )
  if ((CURRENT == 2)); then
    _describe -t commands 'keyhold command' commands
    return
  fi
  shift words
  ((CURRENT--))
  local key=$words[1]
${groups.join("\n")}
  case $key in
${cases.join("\n")}
  esac
}
_keyhold "$@"
`;
}
