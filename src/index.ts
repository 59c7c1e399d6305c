export { isSecretError, Secret, SecretError, type SecretErrorCode, SecretKey } from "./secret/index.js";
