export {
  type FingerprintEntry,
  type FingerprintIndex,
  type FingerprintRecorder,
  type FingerprintSource,
  type KnownOwner,
  type KnownValueSet,
  knownValueSet,
  MIN_KNOWN_LENGTH,
  openFingerprintIndex,
  SCAN_INDEX_FILE,
  SCAN_KEY_NAME,
} from "./fingerprint-index.js";
export { type Detection, detect, INLINE_IGNORE, KNOWN_VALUE_RULE } from "./detect.js";
export { exposeFindingMatch, type Finding, maskMatch, type Remediation } from "./finding.js";
export { workTreeTop } from "./git.js";
export { displayPath, findingPathBytes, pathText } from "./path.js";
export {
  HOOK_MARKER,
  type HookInstallOptions,
  installHook,
  installPreReceiveHook,
  renderHook,
} from "./hook.js";
export {
  GITLEAKS_IGNORE,
  type GitleaksEntry,
  gitleaksMatcher,
  parseGitleaksIgnore,
  parseSecretlintIgnore,
  SECRETLINT_IGNORE,
  withIgnoreFiles,
} from "./ignore-files.js";
export { findKnownValues, type KnownForm, type KnownHit } from "./known-values.js";
export {
  type AcceptedFinding,
  EMPTY_POLICY,
  loadPolicy,
  makePolicy,
  POLICY_FILE,
  type ScanPolicy,
  writeBaseline,
} from "./policy.js";
export { NO_PROGRESS, type ScanProgress, terminalProgress } from "./progress.js";
export { renderGitlab, renderJson, renderReplacements, renderSarif, renderText } from "./report.js";
export { groupLeaks, type Leak, type LeakCommit, type LeakPlace } from "./history-groups.js";
export { defineRule, entropyOf, type Rule } from "./rule.js";
export { PATTERN_RULES } from "./rules/index.js";
export {
  type ScanMode,
  type ScanOptions,
  type ScanResult,
  type ScanStats,
  MAX_FAILURES_LISTED,
  Scanner,
  scanCommitMessage,
  scanInput,
  STDIN_NAME,
  scanStaged,
  scanTree,
  type TreeOptions,
} from "./scanner.js";
export {
  parseRange,
  parseRefUpdates,
  parseSince,
  type RangeSpec,
  type RefUpdate,
  readCommittedFile,
  scanHistory,
  scanPush,
  scanRange,
  scanSince,
} from "./history-scan.js";
export { DEFAULT_MAX_SIZE, type SkipReason } from "./skip.js";
export { addRefs, knownValueOf } from "./value-of.js";
