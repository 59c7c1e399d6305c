export { type DoctorOptions, type DoctorFinding, type FindingKind, runDoctor } from "./doctor.js";
export { type DotenvEntry, parseDotenv } from "./dotenv.js";
export {
  resolveLayout,
  type StoreLayout,
  storeFile,
  vaultConfigFile,
  vaultDir,
} from "./layout.js";
export { type CredentialEntryInfo, type CredentialStatus, listCredentials } from "./listing.js";
export {
  CURRENT_HISTORY_MAX,
  type CredentialMeta,
  type CurrentChange,
  readMeta,
  storeChangedAt,
  type VersionMeta,
} from "./meta.js";
export { defaultRunLocation, type RunOptions, type RunResult, runWithCredentials } from "./run.js";
export {
  assertStoreUsable,
  closeOpened,
  decryptStored,
  exists,
  initStore,
  type OpenedFile,
  openForShred,
  readOpened,
  readCiphertext,
  removeCredential,
  resolveNotAfter,
  restoreVersion,
  shredFile,
  shredOpened,
  TEMPORARY_NAME,
  writeVersion,
} from "./store.js";
export {
  assertUserCredential,
  type OwnCredential,
  ownCredential,
  vaultMasterName,
} from "./reserved.js";
export { readValue } from "./value-input.js";
