import { CredentialStore } from "../app/credentials.js";
import { resolveLayout, type StoreLayout } from "../credstore/index.js";
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

/** The credential store the options name (--store, --state, --with-key, else the environment's). */
export function storeFrom(
  values: { store?: string; state?: string; "with-key"?: string },
  io: CliIo,
): CredentialStore {
  return new CredentialStore(layoutFrom(values, io));
}
