export { type DoctorOptions, type Finding, type FindingKind, runDoctor } from "./doctor.js";
export { type DotenvEntry, parseDotenv } from "./dotenv.js";
export { DEFAULT_STATE, resolveLayout, type StoreLayout, storeFile } from "./layout.js";
export { type CredentialEntryInfo, type CredentialStatus, listCredentials } from "./listing.js";
export { type CredentialMeta, readMeta, type VersionMeta } from "./meta.js";
export { defaultRunParent, type RunOptions, type RunResult, runWithCredentials } from "./run.js";
export {
  assertStoreUsable,
  decryptStored,
  exists,
  initStore,
  readCiphertext,
  removeCredential,
  restoreVersion,
  shredFile,
  writeVersion,
} from "./store.js";
export { readValue } from "./value-input.js";
