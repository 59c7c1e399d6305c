import type { ParseArgsConfig } from "node:util";
import { resolveLayout, type StoreLayout } from "../credstore/index.js";
import type { WithKey } from "../systemd/index.js";
import { type CliIo, usageError } from "./io.js";

export { parsed } from "./io.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Options every store command takes. */
export const STORE_OPTIONS = {
  store: { type: "string" },
  state: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

export function expectPositionals(positionals: string[], count: number, synopsis: string): void {
  if (positionals.length !== count) {
    throw usageError(
      // Never echo the extra word: the likeliest one is a value typed where it does not belong.
      positionals.length < count ? "missing argument" : `unexpected extra argument (#${count + 1})`,
      `usage: keyhold ${synopsis}; values are read from stdin or a prompt, never from arguments`,
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
