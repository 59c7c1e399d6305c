export { isSecretError, SecretError, type SecretErrorCode } from "./errors.js";
export { SECRET_KEY_BYTES, SecretKey } from "./secret-key.js";
export { Secret } from "./secret.js";
export { excludeMemoryFromCoreDumps } from "./core-dumps.js";
