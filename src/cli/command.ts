import { parseArgs } from "node:util";
import { phase } from "../timing.js";
import { type CliIo, usageError, writeLine } from "./io.js";

/*
 * How every keyhold command is built: a row of data beside its code (name, synopsis, help, options
 * with their descriptions, how many positionals, `run`), the way systemd's VERB() table sits beside
 * each verb. --help, usage errors, the error voice and the exit codes come from here and main.ts;
 * the man page and the shell completions (scripts/share.mjs) are rendered from the same rows.
 */

/** One option: its type and the line that --help, the man page and completion show for it. */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
  readonly default?: string | boolean | readonly string[];
  /** The value's placeholder in help (DIR, FILE, N…); strings only. */
  readonly arg?: string;
  readonly description: string;
  /** What shell completion offers for the value: files, directories or a fixed list. */
  readonly complete?: "file" | "directory" | readonly string[];
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;
/** The options of a command that has none of its own. */
export type NoOptions = Readonly<Record<never, OptionSpec>>;

type ValueOf<S extends OptionSpec> = S["type"] extends "boolean"
  ? S extends { multiple: true }
    ? boolean[]
    : boolean
  : S extends { multiple: true }
    ? string[]
    : string;

/** Parsed option values: present when the option has a default, else optional. */
export type Values<O extends OptionTable> = {
  -readonly [K in keyof O as O[K] extends { default: unknown } ? K : never]: ValueOf<O[K]>;
} & {
  -readonly [K in keyof O as O[K] extends { default: unknown } ? never : K]?: ValueOf<O[K]>;
};

/** Options every store command takes. */
export const STORE_OPTIONS = {
  store: {
    type: "string",
    arg: "DIR",
    complete: "directory",
    description: "the credential store (default $KEYHOLD_STORE or /etc/credstore.encrypted)",
  },
  state: {
    type: "string",
    arg: "DIR",
    complete: "directory",
    description: "keyhold's state directory (default $KEYHOLD_STATE or /var/lib/keyhold)",
  },
} as const satisfies OptionTable;

/** The job server's socket, for every command that talks to it (trigger, runs, serve). */
export const SOCKET_OPTION = {
  type: "string",
  arg: "PATH",
  complete: "file",
  description: "the job server's socket (default $KEYHOLD_JOBS_SOCKET or /run/keyhold/jobs.sock)",
} as const;

/** `--json` for every command that can print JSON instead of text. */
export const JSON_OUTPUT = { type: "boolean", description: "print JSON instead of text" } as const;

export const HELP_OPTION = {
  help: { type: "boolean", short: "h", description: "show this help and exit" },
} as const satisfies OptionTable;

/** A command's own options win over the common ones of the same name (serve's own --state). */
export type AllOptions<O extends OptionTable> = typeof HELP_OPTION & Omit<typeof STORE_OPTIONS, keyof O> & O;

/** What `run` gets: parsed arguments and the outside world. */
export interface RunContext<O extends OptionTable> {
  values: Values<AllOptions<O>>;
  positionals: string[];
  /** With `passthrough`: the words after the first `--`, not parsed. */
  command: string[];
  io: CliIo;
}

export interface CommandDef<O extends OptionTable = OptionTable> {
  /** The words that select it: "set", "vault put". */
  readonly name: string;
  /** The usage line without "keyhold ". */
  readonly synopsis: string;
  /**
   * One line for lists; it lives in the table that lists the command (commands.ts, a group's
   * rows), so `keyhold help` and `keyhold vault help` load no command's module.
   */
  readonly summary?: string;
  /** Printed by --help under the usage line, and in the man page. */
  readonly help?: string;
  readonly options: O;
  /** Whether --store and --state apply (default true). */
  readonly store?: boolean;
  /** Exactly this many positionals; leave out to check them in `run`. */
  readonly positionals?: number;
  /** The usage hint says values come from stdin, never arguments (default: with `store`). */
  readonly readsValues?: boolean;
  /** The words after the first `--` are a command to run, handed over unparsed. */
  readonly passthrough?: boolean;
  /** What completion offers for positionals. */
  readonly completePositionals?: "file" | "directory" | readonly string[];
  /** Exit status of a failure (default 1); and of particular error codes. */
  readonly exitOnFailure?: number;
  readonly exitCodes?: Readonly<Record<string, number>>;
  run(ctx: RunContext<O>): Promise<number>;
}

/**
 * One row of a group: the word that selects it, its one-line summary, and where its definition
 * lives. Definitions load on demand, so `keyhold vault get` loads get's module and what it uses,
 * not every other subcommand's.
 */
export interface SubcommandEntry {
  readonly word: string;
  readonly summary: string;
  load(): Promise<AnyDef>;
}

/** A command word whose first argument selects one of its rows: `keyhold vault put`. */
export interface CommandGroup {
  readonly name: string;
  readonly synopsis: string;
  readonly help?: string;
  readonly subcommands: readonly SubcommandEntry[];
}

/** Any row of the table: rows differ in their option types, which only their own `run` reads. */
// biome-ignore lint/suspicious/noExplicitAny: the table holds rows of every option type
export type AnyDef = CommandDef<any>;
export type AnyCommand = AnyDef | CommandGroup;

export const isGroup = (c: AnyCommand): c is CommandGroup => "subcommands" in c;

/**
 * Declares a group. Besides the type, it makes the group's module import this one, as every
 * command's module does: the bundle then keeps its shared helpers in the chunks keyhold loads at
 * start-up rather than in one more file of their own.
 */
export function defineGroup(group: CommandGroup): CommandGroup {
  return group;
}

/** Declares a command; the identity function that gives `run` its typed values. */
export function defineCommand<const O extends OptionTable>(def: CommandDef<O>): CommandDef<O> {
  return def;
}

/** Every option a command accepts, in the order --help lists them. */
export function optionsOf(def: AnyDef): OptionTable {
  return { ...def.options, ...(def.store === false ? {} : STORE_OPTIONS), ...HELP_OPTION };
}

/** The Damerau–Levenshtein distance (adjacent transpositions count once), for suggestions. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const above = d[i - 1] as number[];
      row[j] = Math.min(
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (above[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/**
 * The candidate meant by what was typed: the one word it begins, or else the nearest when it is
 * near enough to be a typo (at most a third of the letters off, and at least one).
 */
export function nearest(typed: string, candidates: readonly string[]): string | undefined {
  const word = typed.toLowerCase();
  if (word.length === 0) return undefined;
  const prefixed = candidates.filter((c) => word.length >= 2 && c.startsWith(word));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const distance = editDistance(word, c);
    if (distance < bestDistance) [best, bestDistance] = [c, distance];
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/**
 * An option name as typed, when it looks like one: anything else (a value typed where an option
 * was expected, control characters) is not echoed.
 */
function shown(raw: string): string | undefined {
  return /^--?[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/.test(raw) ? raw : undefined;
}

function unknownOption(raw: string, options: OptionTable, hint: string): Error {
  const name = shown(raw);
  if (name === undefined)
    return usageError("unknown option (not shown: it does not look like an option name)", hint);
  const flags = Object.entries(options).flatMap(([long, s]) => [
    `--${long}`,
    ...(s.short ? [`-${s.short}`] : []),
  ]);
  const near = name.startsWith("--")
    ? nearest(
        name,
        flags.filter((f) => f.startsWith("--")),
      )
    : undefined;
  return usageError(`unknown option ${name}${near === undefined ? "" : ` (did you mean ${near}?)`}`, hint);
}

export function expectPositionals(
  positionals: string[],
  count: number,
  synopsis: string,
  readsValues = true,
): void {
  if (positionals.length !== count) {
    throw usageError(
      // Never echo the extra word: the likeliest one is a value typed where it does not belong.
      positionals.length < count ? "missing argument" : `unexpected extra argument (#${count + 1})`,
      `usage: keyhold ${synopsis}${readsValues ? "; values are read from stdin or a prompt, never from arguments" : ""}`,
    );
  }
}

/**
 * A command's arguments, in keyhold's voice: an unknown option names the nearest known one, a
 * missing value says which option lacks it, and no value is ever echoed.
 */
export function parseCommand<O extends OptionTable>(
  def: CommandDef<O>,
  argv: string[],
): Omit<RunContext<O>, "io"> {
  const dash = def.passthrough ? argv.indexOf("--") : -1;
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const command = dash < 0 ? [] : argv.slice(dash + 1);
  const table = optionsOf(def);
  const hint = `usage: keyhold ${def.synopsis}`;
  const config: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean; default?: never }
  > = {};
  for (const [name, s] of Object.entries(table)) {
    config[name] = {
      type: s.type,
      ...(s.short === undefined ? {} : { short: s.short }),
      ...(s.multiple === undefined ? {} : { multiple: s.multiple }),
      ...(s.default === undefined ? {} : { default: s.default as never }),
    };
  }
  // Not strict: keyhold checks the tokens itself, so the errors are its own words, not Node's.
  const { values, positionals, tokens } = parseArgs({
    args: own,
    options: config,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  for (const t of tokens) {
    if (t.kind !== "option") continue;
    const spec = Object.hasOwn(table, t.name) ? table[t.name] : undefined;
    if (spec === undefined) throw unknownOption(t.rawName, table, hint);
    const flag = `--${t.name}`;
    if (spec.type === "boolean" && t.value !== undefined)
      throw usageError(`option ${flag} takes no value`, hint);
    if (spec.type === "string" && t.value === undefined)
      throw usageError(`option ${flag} needs a value${spec.arg ? ` (${spec.arg})` : ""}`, hint);
    if (spec.type === "string" && !t.inlineValue && t.value?.startsWith("-"))
      throw usageError(
        `option ${flag} needs a value; one that starts with '-' is written ${flag}=VALUE`,
        hint,
      );
  }
  return { values: values as Values<AllOptions<O>>, positionals, command };
}

/** The --help text of a command: usage line, its help, its options. */
export function helpText(def: AnyDef): string {
  const lines = [`usage: keyhold ${def.synopsis}`];
  const about = def.help ?? def.summary;
  if (about !== undefined) lines.push("", about);
  const rows = Object.entries(optionsOf(def)).map(([name, s]) => [flagText(name, s), s.description] as const);
  const width = Math.max(...rows.map(([f]) => f.length));
  lines.push("", "options:", ...rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`));
  return lines.join("\n");
}

/** `-h, --help`, `--store DIR`, `--cred NAME…`. */
export function flagText(name: string, s: OptionSpec): string {
  const short = s.short === undefined ? "" : `-${s.short}, `;
  const arg = s.type === "string" ? ` ${s.arg ?? "VALUE"}${s.multiple ? "…" : ""}` : "";
  return `${short}--${name}${arg}`;
}

/** Parses and runs one command; --help is answered here. */
export async function runCommand(def: AnyDef, argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(def, argv);
  if (parsed.values.help) {
    writeLine(io.stdout, helpText(def));
    return 0;
  }
  if (def.positionals !== undefined)
    expectPositionals(
      parsed.positionals,
      def.positionals,
      def.synopsis,
      def.readsValues ?? def.store !== false,
    );
  return def.run({ ...parsed, io });
}

/** A subcommand's definition, with the summary its group's row gives it. */
export async function loadSubcommand(entry: SubcommandEntry): Promise<AnyDef> {
  return { ...(await entry.load()), summary: entry.summary };
}

/** The list a group prints for `keyhold vault help`. */
export function groupHelp(group: CommandGroup): string {
  const words = group.subcommands.map((c) => [c.word, c.summary] as const);
  return [
    `usage: keyhold ${group.synopsis}`,
    ...(group.help === undefined ? [] : ["", group.help]),
    "",
    "subcommands:",
    ...words.map(([w, s]) => `  ${w.padEnd(14)}  ${s}`),
  ].join("\n");
}

/** Finds the subcommand a group's first argument names; the row, or a usage error with a suggestion. */
export function subcommandOf(group: CommandGroup, word: string): SubcommandEntry {
  const words = group.subcommands.map((c) => c.word);
  const index = words.indexOf(word);
  if (index >= 0) return group.subcommands[index] as SubcommandEntry;
  const near = nearest(word, words);
  throw usageError(
    `unknown ${group.name} subcommand: ${shownWord(word)}`,
    near === undefined
      ? `run 'keyhold ${group.name} help' for the list`
      : `did you mean 'keyhold ${group.name} ${near}'? ('keyhold ${group.name} help' lists them all)`,
  );
}

/** A command word as typed, made safe for a terminal and short. */
export function shownWord(word: string): string {
  const clean = word.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
  return clean.length > 40 ? `${clean.slice(0, 40)}…` : clean;
}

/** Runs a group: help, or the subcommand its first argument names. */
export async function runGroup(group: CommandGroup, argv: string[], io: CliIo): Promise<number> {
  const [word, ...rest] = argv;
  if (word === undefined || word === "help" || word === "--help" || word === "-h") {
    writeLine(io.stdout, groupHelp(group));
    return 0;
  }
  const def = await loadSubcommand(subcommandOf(group, word));
  phase("command");
  return runCommand(def, rest, io);
}
