export {
  clearSecretCache,
  createCredentialsDirectory,
  fileVariableFor,
  type LoadOptions,
  loadSecret,
  loadSecretFile,
  loadSecretKeyFile,
  loadSecretSync,
} from "./load/index.js";
export {
  excludeMemoryFromCoreDumps,
  isKeyholdError,
  isSecretError,
  KeyholdError,
  type KeyholdErrorCode,
  Secret,
  SecretError,
  type SecretErrorCode,
  SecretKey,
} from "./secret/index.js";
export {
  type AccessRule,
  FileBackend,
  initVault,
  joinVault,
  keyringProvider,
  type MasterKeyProvider,
  openVault,
  type PluginManifest,
  PostgresBackend,
  passphraseProvider,
  type RotationSchedule,
  ScopedVault,
  type SecretInfo,
  systemdCredentialProvider,
  Vault,
  type VaultAuditLog,
  type VaultBackend,
  type VaultOptions,
} from "./vault/index.js";
export {
  type Finding,
  type FingerprintRecorder,
  openFingerprintIndex,
  SCAN_KEY_NAME,
  type ScanOptions,
  type ScanResult,
  scanHistory,
  scanStaged,
  scanTree,
} from "./scan/index.js";
// The credential store with the CLI's guarantees: every change audited and fingerprinted.
export {
  CredentialStore,
  type CredentialStoreOptions,
  type ImportedEntry,
  type ImportOptions,
  lookupUser,
  type RunAsUser,
  type RunRequest,
  type SystemdRunRequest,
  type ValueSource,
} from "./app/index.js";
// The vault writes to the shared audit log; applications open it with this.
export { openStateAuditLog } from "./audit/index.js";
// This host's vault as `keyhold vault` opens it: its configuration, provider, backend and audit log.
export {
  createHostVault,
  type CreateHostVaultOptions,
  type HostVault,
  type HostVaultOptions,
  loadVaultSecrets,
  openHostVault,
  readVaultConfig,
  type VaultConfig,
  vaultKind,
  withHostVault,
} from "./app/vault-host.js";
export { declareUnitNeeds, mergeUnitNeeds, type UnitNeeds } from "./app/manifests.js";
export { resolveLayout, type StoreLayout } from "./credstore/index.js";
// The job server as `keyhold serve` starts it: configuration, credentials, its own audit key and log.
export {
  type JobServerStartOptions,
  type RunningJobServer,
  serveJobsUntilStopped,
  startJobServer,
} from "./app/jobserver.js";
export { answerVaultCredential, type VaultAnswerRequest } from "./app/vault-answer.js";
// What `keyhold unit` does besides rendering: vault secrets, the job server's audit key, installing.
export {
  createJobServerAuditKey,
  declareUnitVault,
  type InstalledUnit,
  installUnit,
  thisInstallation,
  type UnitVault,
  type UnitVaultPlace,
  unitVaultSecrets,
  type VaultAnswerer,
} from "./app/units.js";
export {
  KEY_LEVELS,
  type KeyLevel,
  type RotationRequest,
  rotateVaultKeys,
  rotationTimerUnits,
  vaultKeyStatus,
  writeRotationTimer,
} from "./app/vault-rotation.js";
export {
  type HostVaultVerification,
  masterFromExport,
  readPassphraseFile,
  verifyHostVault,
} from "./app/vault-host.js";
// Values coming into this host's vault: put, a plaintext file migrated, a .env file, a Fernet store.
export {
  importVaultValues,
  LEGACY_STORE_MAX,
  migrateVaultFile,
  putVaultSecret,
  readDotenvFile,
  readFernetStore,
  readInputFile,
  type VaultPutOptions,
} from "./app/vault-import.js";
