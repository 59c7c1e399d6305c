/*
 * `keyhold vault` lives in src/cli/vault/ (one file a subcommand) and opening this host's vault in
 * src/app/vault-host.ts. This module only keeps `keyhold run --vault`'s import (src/cli/credstore.ts)
 * working until it imports the vault from there.
 */
export { loadVaultSecrets } from "./vault/shared.js";
