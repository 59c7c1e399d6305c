export {
  clearSecretCache,
  createCredentialsDirectory,
  fileVariableFor,
  type LoadOptions,
  loadSecret,
  loadSecretKeyFile,
  loadSecretSync,
} from "./load/index.js";
export { isSecretError, Secret, SecretError, type SecretErrorCode, SecretKey } from "./secret/index.js";
