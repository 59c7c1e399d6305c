export {
  type CredsOptions,
  decryptCredential,
  decryptCredentialSync,
  defaultWithKey,
  type EncryptOptions,
  encryptCredential,
  hasTpm2,
  type WithKey,
} from "./creds.js";
export { type CredentialHeader, type CredentialKeyType, looksLikeCredential, readCredentialHeader } from "./header.js";
export { assertCredentialName, CREDENTIAL_NAME_MAX, CREDENTIAL_SIZE_MAX, credentialNameProblem } from "./names.js";
export { runTool, runToolSync, type ToolResult } from "./process.js";
