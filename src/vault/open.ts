import type { Secret } from "../secret/index.js";
import { type InitVaultOptions, Vault, type VaultOptions } from "./vault.js";

/**
 * Opens an existing vault: the master comes from `provider`, every record is checked against the
 * integrity root, and the store's history against the head this host saw last. Close it when done
 * (`vault.close()` wipes the keys it holds).
 */
export function openVault(options: VaultOptions): Promise<Vault> {
  return Vault.open(options);
}

/** Creates a new vault in `backend` and a new master key held by `provider`. */
export function initVault(options: InitVaultOptions): Promise<Vault> {
  return Vault.init(options);
}

/** Gives this host its own copy of an existing store's master key, then opens the store. */
export function joinVault(options: VaultOptions & { master: Secret }): Promise<Vault> {
  return Vault.join(options);
}
