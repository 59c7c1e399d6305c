export {
  isKeyholdError,
  isSecretError,
  KeyholdError,
  type KeyholdErrorCode,
  SecretError,
  type SecretErrorCode,
} from "./errors.js";
export { asKeyBytes, type KeyBytes, type Wipeable, wipe, wipeAll } from "./wipe.js";
export { SECRET_KEY_BYTES, SecretKey } from "./secret-key.js";
export { Secret } from "./secret.js";
export { entropyOf, KEY_PREFIXED_WORD, KEY_PREFIXES, type KeyPrefix } from "./secret-words.js";
export { excludeMemoryFromCoreDumps } from "./core-dumps.js";
export { type MatchOutput, PatternAutomaton } from "./multi-match.js";
