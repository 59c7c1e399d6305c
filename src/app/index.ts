export {
  CredentialStore,
  type CredentialStoreOptions,
  type RunRequest,
  type SystemdRunRequest,
  type ValueSource,
} from "./credentials.js";
export type { ImportedEntry, ImportOptions } from "./credentials-import.js";
export { lookupUser, type RunAsUser } from "./run-as.js";
