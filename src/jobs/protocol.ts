/**
 * Constants of the job server protocol, named after docs/jobserver-protocol.md. The error list is
 * closed: a new code is a change to that document first.
 */

export const API_PREFIX = "/v1";
export const MAX_BODY_BYTES = 1024 * 1024;
export const KEEP_ALIVE_TIMEOUT_MS = 5000;
export const RUNS_LIMIT_DEFAULT = 50;
export const RUNS_LIMIT_MAX = 1000;
/**
 * What a follow stream or a log download keeps in memory for its client; a follower's backlog
 * beyond it waits in a spool file in the server's state directory until the client reads it.
 */
export const CLIENT_BUFFER_BYTES = 1024 * 1024;
/** Connections beyond `http.maxConnections` kept for `GET /v1/health` when every slot is busy. */
export const HEALTH_RESERVE = 8;
export const DEFAULT_SOCKET = "/run/keyhold/jobs.sock";
export const DEFAULT_CONFIG = "/etc/keyhold/jobs.json";
export const USER_HEADER = "x-keyhold-user";
export const UID_HEADER = "x-keyhold-uid";

export const API_ERRORS = {
  BAD_REQUEST: 400,
  BAD_JSON: 400,
  PARAM_UNKNOWN: 400,
  PARAM_INVALID: 400,
  PARAM_MISSING: 400,
  NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  LOG_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  RUN_FINISHED: 409,
  RUN_ACTIVE: 409,
  BODY_TOO_LARGE: 413,
  QUEUE_FULL: 429,
  INTERNAL: 500,
  SERVER_BUSY: 503,
  SHUTTING_DOWN: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.code = code;
    this.status = API_ERRORS[code];
  }
}

export type FollowEvent =
  | { event: "accepted" | "started" | "finished"; run: unknown }
  | { event: "output"; stream: "stdout" | "stderr"; data: string }
  | { event: "cut"; reason: string; run: unknown };
