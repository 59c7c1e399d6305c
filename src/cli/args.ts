// Not the credential store itself (src/app/credentials.ts): the vault's commands take a layout
// only, and a bundle that loaded this file would load the store's modules with it.
import { resolveLayout, type StoreLayout } from "../credstore/layout.js";
import type { WithKey } from "../systemd/index.js";
import { type CliIo, usageError } from "./io.js";

export const WITH_KEYS: readonly WithKey[] = ["auto", "host", "tpm2", "host+tpm2"];

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
