export type { CommitOp, CommitResult, StoredRecord, VaultBackend } from "./backend.js";
export {
  decryptFernet,
  FERNET_MAX_CLOCK_SKEW_SECONDS,
  type FernetOptions,
  type LegacyEntry,
  legacyEntries,
} from "./fernet.js";
export { FileBackend, type FileBackendOptions, VAULT_FILE } from "./file-backend.js";
export type { RateLimits } from "./limiter.js";
export {
  type AccessRule,
  checkPlugin,
  type PluginManifest,
  type PolicyDocument,
  parseManifest,
  type VaultOp,
} from "./policy.js";
export {
  type KeyringProviderOptions,
  keyringProvider,
  MASTER_CREDENTIAL,
  type MasterKeyProvider,
  type PassphraseProviderOptions,
  type ProviderKind,
  passphraseProvider,
  type SystemdCredentialProviderOptions,
  systemdCredentialProvider,
} from "./providers.js";
export { parseRef, type SecretRef } from "./refs.js";
export { initVault, joinVault, openVault } from "./open.js";
export { POSTGRES_TABLE, PostgresBackend, type PostgresBackendOptions } from "./postgres-backend.js";
export {
  type AuditVerifyReport,
  type InitVaultOptions,
  type PutOptions,
  type Reauth,
  type RotateLevel,
  type RotationResult,
  type RotationSchedule,
  ScopedVault,
  type SecretInfo,
  Vault,
  type VaultAuditLog,
  type VaultOptions,
  type VerifyReport,
  type VersionInfo,
} from "./vault.js";
