/**
 * The one error class keyhold throws (named `SecretError` before it covered the whole product; that
 * name stays exported as an alias so no caller breaks). `code` is stable and documented; `message` is a lower-case
 * fragment without a final period and never holds a secret value; `hint` says what to do when
 * the fix is known.
 */
export type KeyholdErrorCode =
  // reading files and names
  | "FILE_NOT_FOUND"
  | "PERMISSIONS_TOO_OPEN"
  | "WRONG_OWNER"
  | "SYMLINK_REFUSED"
  | "NOT_MEMORY_FS"
  | "NOT_A_FILE"
  | "PATH_VALIDATION_FAILED"
  | "INVALID_FORMAT"
  | "INVALID_NAME"
  | "TOO_LARGE"
  | "EMPTY_VALUE"
  | "KEY_DERIVATION"
  // credentials and systemd-creds
  | "CREDENTIAL_NOT_FOUND"
  | "CREDENTIAL_EXISTS"
  | "RESERVED_NAME"
  | "DECRYPT_FAILED"
  | "ENCRYPT_FAILED"
  | "NAME_MISMATCH"
  | "EXPIRED"
  | "NOT_ROOT"
  | "SYSTEMD_CREDS_MISSING"
  // the store and its state
  | "STORE_NOT_FOUND"
  | "STORE_INSECURE"
  | "VERSION_NOT_FOUND"
  | "LOCK_TIMEOUT"
  | "AUDIT_KEY_MISSING"
  | "AUDIT_TAMPERED"
  | "DISPOSED"
  | "TERMINAL_REFUSED"
  // the vault
  | "VAULT_NOT_FOUND"
  | "VAULT_EXISTS"
  | "VAULT_TAMPERED"
  | "VAULT_ROLLBACK"
  | "VAULT_FORKED"
  | "VAULT_CONFLICT"
  | "FORMAT_UNSUPPORTED"
  | "MASTER_KEY_MISSING"
  | "WRONG_PASSPHRASE"
  | "SECRET_NOT_FOUND"
  | "ACCESS_DENIED"
  | "RATE_LIMITED"
  | "LOCKED_OUT"
  | "REAUTH_REQUIRED"
  // systemd units
  | "UNIT_INVALID"
  | "UNIT_EXISTS"
  | "SECRET_IN_COMMAND"
  | "PEER_UNVERIFIED"
  | "UNIT_UNHEALTHY"
  | "ROLLOUT_IN_PROGRESS"
  | "ROLLOUT_INTERRUPTED"
  | "COMMAND_FAILED"
  // the job server
  | "CONFIG_INVALID"
  | "CONFIG_UNKNOWN_KEY"
  | "SOCKET_IN_USE"
  | "SERVER_UNREACHABLE"
  | "SERVER_ERROR"
  | "STREAM_CUT"
  // the leak scanner
  | "NOT_A_GIT_REPOSITORY"
  | "GIT_FAILED"
  | "HOOK_EXISTS"
  | "USAGE"
  | "IO_ERROR";

export class KeyholdError extends Error {
  override readonly name: string = "KeyholdError";
  readonly code: KeyholdErrorCode;
  readonly hint: string | undefined;

  constructor(code: KeyholdErrorCode, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }
}

export function isKeyholdError(err: unknown, code?: KeyholdErrorCode): err is KeyholdError {
  return err instanceof KeyholdError && (code === undefined || err.code === code);
}

/** The earlier names, kept so library users' code and `instanceof` checks keep working. */
export const SecretError = KeyholdError;
export type SecretError = KeyholdError;
export type SecretErrorCode = KeyholdErrorCode;
export const isSecretError = isKeyholdError;
