export {
  type CredsOptions,
  decryptCredential,
  decryptCredentialSync,
  type DecryptOptions,
  defaultWithKey,
  type EncryptOptions,
  encryptCredential,
  hasTpm2,
  type StartedEncrypt,
  startEncryptCredential,
  type WithKey,
} from "./creds.js";
export {
  type CredentialHeader,
  type CredentialKeyType,
  looksLikeCredential,
  readCredentialHeader,
} from "./header.js";
export {
  assertCredentialName,
  assertCredentialValueSize,
  CREDENTIAL_NAME_MAX,
  CREDENTIAL_SIZE_MAX,
  CREDENTIAL_VALUE_MAX,
  credentialNameProblem,
} from "./names.js";
export { childProcesses, runTool, runToolSync, systemTool, type ToolResult } from "./process.js";
export {
  type AnalyzeOptions,
  assertUnitsVerify,
  type SecurityFinding,
  type SecurityReport,
  securityExposure,
  type VerifyResult,
  verifyUnits,
} from "./analyze.js";
export {
  type InstallOptions,
  type InstalledUnits,
  installUnits,
  type NameCheck,
  checkCredentialNames,
  type UnitCredential,
  type UnitFile,
} from "./install.js";
export {
  checkPeerIsStarting,
  type ProcessFacts,
  parseSocketInstance,
  peerError,
  processFacts,
  type SocketPeer,
  type UnitProcesses,
  unitProcesses,
} from "./socket-peer.js";
export { spanSeconds } from "./time-span.js";
