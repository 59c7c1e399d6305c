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
export { runTool, runToolSync, systemTool, type ToolResult } from "./process.js";
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
} from "./install.js";
export {
  AUDIT_KEY_CREDENTIAL,
  jobServerAuditKeyPath,
  DROP_IN_NAME,
  JOBSERVER_DEFAULT_CONFIG,
  JOBSERVER_DEFAULT_GROUP,
  JOBSERVER_SERVICE,
  JOBSERVER_SOCKET_PATH,
  looksLikeSecret,
  normaliseServiceName,
  type RenderedUnits,
  renderExecLine,
  renderRotationTimer,
  renderUnit,
  ROTATION_UNIT,
  type RotationTimerOptions,
  splitCommandLine,
  UNIT_MODES,
  type UnitCredential,
  type UnitFile,
  type UnitMode,
  type UnitOptions,
  VAULT_SOCKET_DIR,
  type VaultUnitCredential,
  vaultUnitPrefix,
} from "./unit.js";
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
