/** The job server's unit: its names, its socket and its own audit key (docs/jobserver.md). */

export const JOBSERVER_SERVICE = "keyhold-jobs";
export const JOBSERVER_SOCKET_PATH = "/run/keyhold/jobs.sock";
export const JOBSERVER_DEFAULT_GROUP = "keyhold";
export const JOBSERVER_DEFAULT_CONFIG = "/etc/keyhold/jobs.json";
/** The credential the job server signs its audit records with (docs/audit-format.md). */
export const AUDIT_KEY_CREDENTIAL = "keyhold.audit-key";

/**
 * The job server's own audit key, sealed under the credential name AUDIT_KEY_CREDENTIAL in
 * keyhold's state directory and loaded by its unit. Never the host's key: that one seals root's own
 * log, and a job server's key is only as safe as the server.
 */
export function jobServerAuditKeyPath(state: string, service: string): string {
  return `${state}/${service}.audit-key`;
}
