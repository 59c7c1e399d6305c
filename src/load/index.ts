export {
  type CredentialEntry,
  type CredentialsDirectory,
  type CredentialsDirectoryOptions,
  createCredentialsDirectory,
  privateRunLocation,
  removeCredentialsDirectory,
} from "./credentials-directory.js";
export { applyNewlineRule, secretFromText, withoutFinalNewline } from "./newline.js";
export { assertCleanAbsolutePath, type ProtectedFileRules, readProtectedFile } from "./protected-file.js";
export {
  moveSealedKey,
  removeSealedKey,
  type SealedKeyEncoding,
  type SealedKeyFile,
  sealKey,
  unsealKey,
} from "./sealed-key.js";
export {
  clearSecretCache,
  fileVariableFor,
  type LoadOptions,
  loadSecret,
  loadSecretFile,
  loadSecretKeyFile,
  loadSecretSync,
  type SecretSource,
} from "./resolve.js";
