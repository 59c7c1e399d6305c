import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { isSecretError } from "../secret/index.js";

/**
 * One small file of this host's vault state (its memory of the stores it has seen, the lockout
 * record), as text; undefined when there is none. No link is followed and a FIFO cannot block the
 * read. A file anyone but its owner may write is refused: whoever can write it could undo a
 * lockout or a rollback check. Every failure is `broken(what, cause)`, the caller's coded error,
 * never "no state", which would silently turn those checks off.
 */
export function readHostFile(
  path: string,
  maxBytes: number,
  broken: (what: string, cause?: unknown) => Error,
): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw broken("cannot be opened", err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw broken("is not a regular file");
    if ((st.mode & 0o022) !== 0) throw broken("is writable by other users");
    if (st.size > maxBytes) throw broken(`is larger than ${maxBytes} bytes`);
    const bytes = Buffer.alloc(st.size);
    let length = 0;
    while (length < bytes.length) {
      const n = readSync(fd, bytes, length, bytes.length - length, length);
      if (n === 0) break;
      length += n;
    }
    return bytes.subarray(0, length).toString("utf8");
  } catch (err) {
    if (isSecretError(err)) throw err;
    throw broken("cannot be read", err);
  } finally {
    closeSync(fd);
  }
}
