export { callJobServer, type ClientOptions, followRun, listRuns, serverError, triggerRun } from "./client.js";
export {
  type CodePolicy,
  type JobServerConfig,
  type JobSpec,
  loadJobServerConfig,
  type ParamSpec,
  parseJobServerConfig,
} from "./config.js";
export {
  API_ERRORS,
  type ApiErrorCode,
  DEFAULT_CONFIG,
  DEFAULT_SOCKET,
  type FollowEvent,
  MAX_BODY_BYTES,
} from "./protocol.js";
export type { ListenTarget } from "./listen.js";
export type { RunErrorCode, RunRecord, RunState } from "./records.js";
export { patternsFor, patternsForSecrets, type ScrubPattern } from "./scrub-forms.js";
export { scrubBuffer, StreamScrubber } from "./scrubber.js";
export { type CredentialSet, JobServer, type JobServerOptions } from "./server.js";
