import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { isAbsolute } from "node:path";
import { SecretError } from "../secret/index.js";
import { CREDENTIAL_SIZE_MAX } from "../systemd/index.js";

export interface ProtectedFileRules {
  /**
   * Which permission bits are refused: "owner-only" (default: no group or other bits, for files
   * a user points at), "no-others" (group bits allowed: $CREDENTIALS_DIRECTORY on systemd 254+),
   * or "any" (ciphertext, and plaintext files being migrated — that they are open is the point).
   */
  permissions?: "owner-only" | "no-others" | "any";
  /**
   * Owners accepted; default: the calling user and root. "any" for files systemd placed in
   * $CREDENTIALS_DIRECTORY, which belong to the service's (possibly transient) user.
   */
  owners?: readonly number[] | "any";
  /** Largest file accepted. Default 1 MiB, systemd's own credential limit. */
  maxBytes?: number;
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

/** An absolute, already-normalised path with no "." or ".." segments, or PATH_VALIDATION_FAILED. */
export function assertCleanAbsolutePath(path: string, what: string): void {
  if (path.length === 0 || path.includes("\0")) {
    throw new SecretError("PATH_VALIDATION_FAILED", `${what} is empty or contains a NUL byte`);
  }
  if (!isAbsolute(path)) {
    throw new SecretError("PATH_VALIDATION_FAILED", `${what} must be an absolute path: ${path}`);
  }
  const segments = path.split("/");
  if (segments.includes("..") || segments.includes(".")) {
    throw new SecretError("PATH_VALIDATION_FAILED", `${what} must not contain "." or ".." segments: ${path}`);
  }
}

function openError(err: NodeJS.ErrnoException, path: string): SecretError {
  switch (err.code) {
    case "ENOENT":
      return new SecretError("FILE_NOT_FOUND", `secret file not found: ${path}`, { cause: err });
    case "ELOOP":
      return new SecretError("SYMLINK_REFUSED", `refusing to follow a symbolic link: ${path}`, {
        cause: err,
      });
    case "EACCES":
    case "EPERM":
      return new SecretError("NOT_ROOT", `permission denied reading ${path}`, {
        cause: err,
        hint: "run with sudo, or as the user that owns the file",
      });
    case "EISDIR":
      return new SecretError("NOT_A_FILE", `not a regular file: ${path}`, { cause: err });
    default:
      return new SecretError("IO_ERROR", `cannot open ${path}: ${err.code ?? "error"}`, { cause: err });
  }
}

/**
 * Reads a file that holds a secret or a credential without the check-then-open race: open it
 * with O_NOFOLLOW (a symlink at the last component is refused by the kernel), then check the
 * open descriptor with fstat (type, owner, mode, size) and read from that same descriptor.
 */
export function readProtectedFile(path: string, rules: ProtectedFileRules = {}): Buffer {
  const permissions = rules.permissions ?? "owner-only";
  const maxBytes = rules.maxBytes ?? CREDENTIAL_SIZE_MAX;
  const owners = rules.owners ?? [process.geteuid?.() ?? 0, 0];
  let fd: number;
  try {
    fd = openSync(
      path,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NOCTTY | constants.O_NONBLOCK,
    );
  } catch (err) {
    throw openError(err as NodeJS.ErrnoException, path);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SecretError("NOT_A_FILE", `not a regular file: ${path}`);
    if (owners !== "any" && !owners.includes(st.uid)) {
      throw new SecretError("WRONG_OWNER", `unexpected owner of ${path}: uid ${st.uid}`, {
        hint: `the file must belong to uid ${owners.join(" or ")}`,
      });
    }
    const open = permissions === "any" ? 0 : st.mode & (permissions === "owner-only" ? 0o077 : 0o007);
    if (open !== 0) {
      throw new SecretError(
        "PERMISSIONS_TOO_OPEN",
        `file permissions too open: ${path} (mode ${octal(st.mode)}, expected ${permissions === "owner-only" ? "0600 or 0400" : "no access for others"})`,
        { hint: `chmod 0600 ${path}` },
      );
    }
    if (st.size > maxBytes) {
      throw new SecretError("TOO_LARGE", `${path} is ${st.size} bytes; the limit is ${maxBytes}`);
    }
    const buf = Buffer.alloc(st.size);
    let offset = 0;
    while (offset < st.size) {
      const n = readSync(fd, buf, offset, st.size - offset, offset);
      if (n === 0) break;
      offset += n;
    }
    return offset === st.size ? buf : buf.subarray(0, offset);
  } finally {
    closeSync(fd);
  }
}
