export type { AuditDetail, AuditEvent, AuditRecord, AuditResult } from "./format.js";
export {
  AUDIT_ANCHOR_FILE,
  AUDIT_KEY_NAME,
  AUDIT_LOG_FILE,
  createAuditKey,
  createAuditKeyFile,
  loadAuditKey,
  openStateAuditLog,
} from "./key.js";
export { AuditLog, type AuditLogOptions, type AuditSink } from "./log.js";
export type { AuditProblem, AuditProblemKind, AuditReport } from "./verify.js";
