export { looksLikeSecret, quoteExecArgument, renderExecLine, splitCommandLine } from "./exec.js";
export {
  AUDIT_KEY_CREDENTIAL,
  JOBSERVER_DEFAULT_CONFIG,
  JOBSERVER_DEFAULT_GROUP,
  JOBSERVER_SERVICE,
  JOBSERVER_SOCKET_PATH,
  jobServerAuditKeyPath,
} from "./jobserver.js";
export {
  DROP_IN_NAME,
  normaliseServiceName,
  type RenderedUnits,
  renderUnit,
  UNIT_MODES,
  type UnitMode,
  type UnitOptions,
  VAULT_SOCKET_DIR,
} from "./render.js";
export {
  ROTATION_UNIT,
  type RotationTimerOptions,
  renderRotationTimer,
  type VaultUnitCredential,
  vaultUnitPrefix,
} from "./vault.js";
export {
  type CredentialRotationTimerOptions,
  credentialRotationUnit,
  renderCredentialRotationTimer,
  rotationSpan,
} from "./credential-rotation.js";
