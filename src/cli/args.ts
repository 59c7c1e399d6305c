import { type ParseArgsConfig, parseArgs } from "node:util";
import { resolveLayout, type StoreLayout } from "../credstore/index.js";
import type { WithKey } from "../systemd/index.js";
import { type CliIo, parsed, usageError, writeLine } from "./io.js";

export { parsed } from "./io.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Options every store command takes. */
export const STORE_OPTIONS = {
  store: { type: "string" },
  state: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

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

const WITH_KEYS: readonly WithKey[] = ["auto", "host", "tpm2", "host+tpm2"];

export function layoutFrom(
  values: { store?: string; state?: string; "with-key"?: string },
  io: CliIo,
): StoreLayout {
  const withKey = values["with-key"];
  if (withKey !== undefined && !WITH_KEYS.includes(withKey as WithKey)) {
    throw usageError(`--with-key must be one of ${WITH_KEYS.join(", ")}`);
  }
  return resolveLayout({
    env: io.env,
    ...(values.store === undefined ? {} : { store: values.store }),
    ...(values.state === undefined ? {} : { state: values.state }),
    ...(withKey === undefined ? {} : { withKey: withKey as WithKey }),
  });
}

export interface CommandSpec<O extends Options> {
  synopsis: string;
  /** Printed under the usage line by --help. */
  help?: string;
  /** The command's own options; --help is added, and --store and --state unless `store` is false. */
  options: O;
  store?: boolean;
  /** How many positional arguments it takes; leave out to check them in the command. */
  positionals?: number;
}

type CommandConfig<O extends Options> = {
  args: string[];
  options: typeof STORE_OPTIONS & O;
  allowPositionals: true;
  strict: true;
};

/**
 * A command's arguments, parsed in keyhold's voice (usage errors name the synopsis, never echo a
 * value), or undefined when --help was asked for and has been answered.
 */
export function commandArgs<const O extends Options>(
  argv: string[],
  io: CliIo,
  spec: CommandSpec<O>,
): ReturnType<typeof parseArgs<CommandConfig<O>>> | undefined {
  // Without the store options the parser still knows only help and the command's own: typed as
  // one shape, --store and --state are refused like any unknown option.
  const common = spec.store === false ? { help: STORE_OPTIONS.help } : STORE_OPTIONS;
  const config = {
    args: argv,
    options: { ...common, ...spec.options },
    allowPositionals: true,
    strict: true,
  } as CommandConfig<O>;
  const result = parsed(() => parseArgs(config), spec.synopsis);
  if ((result.values as { help?: boolean }).help) {
    writeLine(
      io.stdout,
      `usage: keyhold ${spec.synopsis}${spec.help === undefined ? "" : `\n\n${spec.help}`}`,
    );
    return undefined;
  }
  if (spec.positionals !== undefined)
    expectPositionals(result.positionals, spec.positionals, spec.synopsis, spec.store !== false);
  return result;
}
