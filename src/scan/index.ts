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
