import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { readProtectedFile } from "../load/index.js";
import { type Secret, SecretError, wipe } from "../secret/index.js";
import {
  assertCredentialName,
  assertCredentialValueSize,
  CREDENTIAL_SIZE_MAX,
  decryptCredential,
  encryptCredential,
  readCredentialHeader,
  spanSeconds,
} from "../systemd/index.js";
import { crashPoint, fsyncDirectory, temporaryNameFor, withLock, writeFileAtomic } from "../durable/index.js";
import {
  credentialStateDir,
  lockFile,
  metaFile,
  type StoreLayout,
  storeFile,
  versionFile,
  versionsDir,
} from "./layout.js";
import {
  type CredentialMeta,
  readMeta,
  storeChangedAt,
  type VersionMeta,
  versionsOnDisk,
  withCurrent,
} from "./meta.js";
import { assertUserCredential } from "./reserved.js";

const isRoot = (): boolean => process.geteuid?.() === 0;
const rootOwned = (): { uid?: number; gid?: number } => (isRoot() ? { uid: 0, gid: 0 } : {});

/** Creates the store (0700) and state (0700) directories; safe to run again. Returns what it changed. */
export function initStore(l: StoreLayout): string[] {
  const changed: string[] = [];
  for (const dir of [l.store, l.state]) {
    let existed = true;
    try {
      statSync(dir);
    } catch {
      existed = false;
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!existed) changed.push(`created ${dir}`);
  }
  return changed;
}

/** Refuses to write into a store that is missing or that others can reach. */
export function assertStoreUsable(l: StoreLayout): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(l.store);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EACCES") {
      throw new SecretError("NOT_ROOT", `permission denied on the credential store ${l.store}`, {
        hint: "run with sudo",
      });
    }
    throw new SecretError("STORE_NOT_FOUND", `credential store not found: ${l.store}`, {
      hint: "run: sudo keyhold init",
    });
  }
  if (!st.isDirectory())
    throw new SecretError("STORE_NOT_FOUND", `credential store is not a directory: ${l.store}`);
  if (!isRoot() && st.uid !== process.geteuid?.()) {
    throw new SecretError("NOT_ROOT", `the credential store ${l.store} belongs to uid ${st.uid}`, {
      hint: "run this command with sudo",
    });
  }
  if ((st.mode & 0o077) !== 0 || (isRoot() && st.uid !== 0)) {
    throw new SecretError(
      "STORE_INSECURE",
      `credential store ${l.store} is reachable by others (mode 0${(st.mode & 0o777).toString(8)}, uid ${st.uid})`,
      { hint: "run: sudo keyhold doctor --fix" },
    );
  }
  let state: ReturnType<typeof lstatSync>;
  try {
    state = lstatSync(l.state);
  } catch {
    throw new SecretError("STORE_NOT_FOUND", `state directory not found: ${l.state}`, {
      hint: "run: sudo keyhold init",
    });
  }
  // The state directory holds history, the lock and the audit log: others must not write there.
  if (!state.isDirectory() || (state.mode & 0o022) !== 0 || (isRoot() && state.uid !== 0)) {
    throw new SecretError(
      "STORE_INSECURE",
      `state directory ${l.state} is not a directory only its owner can write`,
      {
        hint: "run: sudo keyhold doctor --fix",
      },
    );
  }
}

/** Whether NAME is in the store; an entry that is not a regular file is an error, not a credential. */
export function exists(l: StoreLayout, name: string): boolean {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(storeFile(l, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
  if (!st.isFile()) {
    throw new SecretError("NOT_A_FILE", `${storeFile(l, name)} is not a regular file`, {
      hint: "move it out of the credential store",
    });
  }
  return true;
}

/** Names keyhold uses for its own temporary files; a credential may not take one. */
export const TEMPORARY_NAME = /^\..+\.tmp-[0-9.]+-[0-9a-f]+$/;

/** Reads a credential's ciphertext from the store (symlinks refused). */
export function readCiphertext(l: StoreLayout, name: string): Buffer {
  try {
    return readProtectedFile(storeFile(l, name), { permissions: "any", owners: "any" });
  } catch (err) {
    if (err instanceof SecretError && err.code === "FILE_NOT_FOUND") {
      throw new SecretError("CREDENTIAL_NOT_FOUND", `credential not found: ${name}`, {
        hint: `list credentials with: keyhold ls; create it with: sudo keyhold set ${name}`,
      });
    }
    throw err;
  }
}

export async function decryptStored(l: StoreLayout, name: string): Promise<Secret> {
  assertCredentialName(name);
  return decryptCredential(name, readCiphertext(l, name), l.creds);
}

export interface WriteOptions {
  notAfter?: string;
  origin: string;
}

function writeMeta(l: StoreLayout, meta: CredentialMeta): void {
  writeFileAtomic(metaFile(l, meta.name), `${JSON.stringify(meta, null, 2)}\n`, {
    mode: 0o600,
    ...rootOwned(),
  });
}

/**
 * Encrypts `value` as the next version of `name` and makes it current, under the store lock.
 * Crash safety: each step is an atomic replace, in the order
 *   1. versions/N (new, immutable)   2. meta listing N   3. STORE/NAME   4. meta with current = N
 * so a kill -9 at any point leaves the store file whole (old or new) and decryptable, and the
 * metadata is corrected on read if it fell one step behind. Step 4 alone appends to the history of
 * current versions, with the time step 3's rename set on the store file.
 */
export async function writeVersion(
  l: StoreLayout,
  name: string,
  value: Secret,
  options: WriteOptions & { mustExist: boolean },
): Promise<VersionMeta> {
  assertCredentialName(name);
  if (TEMPORARY_NAME.test(name)) {
    throw new SecretError(
      "INVALID_NAME",
      `invalid credential name ${JSON.stringify(name)}: reserved for keyhold's temporary files`,
    );
  }
  assertUserCredential(l, name, options.origin);
  assertCredentialValueSize(name, value.byteLength);
  assertStoreUsable(l);
  // Encrypt before taking the lock: systemd-creds is the slow part and touches nothing on disk.
  const encryptOptions = { ...l.creds, ...(l.withKey ? { withKey: l.withKey } : {}) };
  const notAfter = options.notAfter === undefined ? undefined : resolveNotAfter(options.notAfter);
  const ciphertext = await encryptCredential(
    name,
    value.exposeBytes(),
    notAfter === undefined
      ? encryptOptions
      : { ...encryptOptions, notAfter: `@${Math.floor(notAfter.getTime() / 1000)}` },
  );
  // CREDENTIAL_VALUE_MAX is chosen so this never happens; if a key type ever adds more, the
  // value is refused here, before anything is written, rather than stored unreadable.
  if (ciphertext.length > CREDENTIAL_SIZE_MAX) {
    throw new SecretError(
      "TOO_LARGE",
      `credential ${name} would be ${ciphertext.length} bytes encrypted; systemd loads at most ${CREDENTIAL_SIZE_MAX}`,
      { hint: "store a smaller value" },
    );
  }
  return withLock(lockFile(l), () => {
    const present = exists(l, name);
    if (options.mustExist && !present) {
      throw new SecretError("CREDENTIAL_NOT_FOUND", `credential not found: ${name}`, {
        hint: `create it first with: sudo keyhold set ${name}`,
      });
    }
    if (!options.mustExist && present) {
      throw new SecretError("CREDENTIAL_EXISTS", `credential already exists: ${name}`, {
        hint: `replace its value with: sudo keyhold rotate ${name}`,
      });
    }
    // History left by an interrupted rm belongs to a removed credential, never to a new one.
    if (!present) discardState(l, name);
    const now = new Date().toISOString();
    const previous = readMeta(l, name);
    const version =
      Math.max(0, ...versionsOnDisk(l, name), ...(previous?.versions.map((v) => v.version) ?? [])) + 1;
    const entry: VersionMeta = {
      version,
      created: now,
      size: value.byteLength,
      keyType: readCredentialHeader(ciphertext).keyType,
      origin: options.origin,
      ...(notAfter === undefined
        ? {}
        : { notAfter: new Date(Math.floor(notAfter.getTime() / 1000) * 1000).toISOString() }),
    };
    const listed: CredentialMeta = previous
      ? { ...previous, versions: [...previous.versions, entry] }
      : { name, current: 0, created: now, updated: now, versions: [entry] };
    try {
      mkdirSync(versionsDir(l, name), { recursive: true, mode: 0o700 });
      writeFileAtomic(versionFile(l, name, version), ciphertext, { mode: 0o600, ...rootOwned() });
      writeMeta(l, listed);
      crashPoint("store:version-listed");
      writeFileAtomic(storeFile(l, name), ciphertext, { mode: 0o600, ...rootOwned() });
      crashPoint("store:value-stored");
    } catch (err) {
      // The store still holds the previous state: take back what this write added (best effort;
      // on a full disk the next write or doctor finishes the job).
      try {
        if (previous === undefined) discardState(l, name);
        else {
          rmSync(versionFile(l, name, version), { force: true });
          writeMeta(l, previous);
        }
      } catch {
        // leave it: a version file that never became current is harmless ciphertext
      }
      throw err;
    }
    try {
      writeMeta(l, withCurrent(listed, version, storeChangedAt(l, name) ?? Date.now(), now));
    } catch {
      // The new value is stored; metadata one step behind is corrected from the store on read.
    }
    return entry;
  });
}

/**
 * Resolves --not-after once, to an absolute time: "+30d", "+1h30min", "+2 weeks" (systemd's
 * time spans, counted from now) or an ISO 8601 time (a date alone is midnight UTC). keyhold
 * passes systemd-creds the same instant as "@<seconds>", so its metadata and the credential can
 * never disagree. Anything else is a usage error; a time not in the future is refused.
 */
export function resolveNotAfter(notAfter: string, now = Date.now()): Date {
  const text = notAfter.trim();
  let at: number;
  if (text.startsWith("+")) at = now + spanSeconds(text.slice(1)) * 1000;
  else at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(at)) {
    throw new SecretError("USAGE", `cannot read --not-after ${JSON.stringify(notAfter)}`, {
      hint: 'use a span such as "+30d" or "+1h30min", or an ISO 8601 time such as 2027-01-31T00:00:00Z',
    });
  }
  if (at <= now)
    throw new SecretError("USAGE", `--not-after ${JSON.stringify(notAfter)} is not in the future`);
  return new Date(at);
}

/** Makes an earlier version current again, after proving it still decrypts under its name. */
export async function restoreVersion(
  l: StoreLayout,
  name: string,
  to: number | undefined,
): Promise<VersionMeta> {
  assertCredentialName(name);
  assertUserCredential(l, name, "rollback");
  assertStoreUsable(l);
  return withLock(lockFile(l), async () => {
    const meta = readMeta(l, name);
    if (meta === undefined || !exists(l, name)) {
      throw new SecretError("CREDENTIAL_NOT_FOUND", `credential not found: ${name}`);
    }
    const earlier = meta.versions.filter((v) => v.version < meta.current);
    const target = to === undefined ? earlier.at(-1) : meta.versions.find((v) => v.version === to);
    if (target === undefined) {
      throw new SecretError(
        "VERSION_NOT_FOUND",
        to === undefined
          ? `credential ${name} has no earlier version`
          : `credential ${name} has no version ${to}`,
        { hint: `list versions with: keyhold history ${name}` },
      );
    }
    const ciphertext = readProtectedFile(versionFile(l, name, target.version), {
      permissions: "any",
      owners: "any",
    });
    const check = await decryptCredential(name, ciphertext, l.creds);
    check.dispose();
    writeFileAtomic(storeFile(l, name), ciphertext, { mode: 0o600, ...rootOwned() });
    crashPoint("store:value-restored");
    const now = new Date().toISOString();
    writeMeta(l, withCurrent(meta, target.version, storeChangedAt(l, name) ?? Date.parse(now), now));
    return target;
  });
}

/** A file opened once for reading and later shredding through the same descriptor. */
export interface OpenedFile {
  fd: number;
  path: string;
  dev: number;
  ino: number;
  size: number;
  closed: boolean;
}

/** Closes an opened file once; later calls do nothing (a closed fd number may be reused). */
export function closeOpened(file: OpenedFile): void {
  if (file.closed) return;
  file.closed = true;
  closeSync(file.fd);
}

/**
 * Opens a file to be shredded later: O_NOFOLLOW and O_NONBLOCK (a FIFO cannot hang us), and
 * only a regular file is accepted. Keeping the descriptor means the bytes overwritten are the
 * bytes that were read, whatever happens to the path in between.
 */
export function openForShred(path: string): OpenedFile {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ELOOP")
      throw new SecretError("SYMLINK_REFUSED", `refusing to follow a symbolic link: ${path}`);
    if (code === "ENOENT") throw new SecretError("FILE_NOT_FOUND", `file not found: ${path}`);
    throw err;
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new SecretError("NOT_A_FILE", `not a regular file: ${path}`);
  }
  return { fd, path, dev: st.dev, ino: st.ino, size: st.size, closed: false };
}

export function readOpened(file: OpenedFile, maxBytes: number): Buffer {
  if (file.size > maxBytes)
    throw new SecretError("TOO_LARGE", `${file.path} is ${file.size} bytes; the limit is ${maxBytes}`);
  const buf = Buffer.alloc(file.size);
  let offset = 0;
  while (offset < file.size) {
    const n = readSync(file.fd, buf, offset, file.size - offset, offset);
    if (n === 0) break;
    offset += n;
  }
  // A file cut short while it was read would be stored (and then shredded) as a shorter value.
  if (offset !== file.size || fstatSync(file.fd).size !== file.size) {
    wipe(buf);
    throw new SecretError("IO_ERROR", `${file.path} changed while keyhold read it; nothing was stored`);
  }
  return buf;
}

/**
 * Overwrites an opened file with zeros through its descriptor, fsyncs, and unlinks the path only
 * if it still names the same file (a path swapped under us — a renamed parent, a symlink — is
 * refused rather than followed). Always closes the descriptor.
 */
export function shredOpened(file: OpenedFile): void {
  try {
    const size = fstatSync(file.fd).size;
    const zeros = Buffer.alloc(Math.min(size, 1 << 20));
    for (let offset = 0; offset < size; ) {
      offset += writeSync(file.fd, zeros, 0, Math.min(zeros.length, size - offset), offset);
    }
    fsyncSync(file.fd);
    let now: ReturnType<typeof lstatSync> | undefined;
    try {
      now = lstatSync(file.path);
    } catch {
      now = undefined;
    }
    if (now === undefined || now.dev !== file.dev || now.ino !== file.ino) {
      throw new SecretError(
        "PATH_VALIDATION_FAILED",
        `${file.path} changed while keyhold worked; its contents were overwritten but the path was not removed`,
      );
    }
    unlinkSync(file.path);
    fsyncDirectory(dirname(file.path));
  } finally {
    closeOpened(file);
  }
}

/** Overwrites a file with zeros in place, fsyncs, and unlinks it. */
export function shredFile(path: string): void {
  shredOpened(openForShred(path));
}

/** A hidden name in the same directory, for taking a file out of sight atomically before shredding it. */
const asideName = temporaryNameFor;

/** Shreds a credential's kept state (versions, metadata): renamed aside first, so a crash leaves no half-removed history under the name. */
function discardState(l: StoreLayout, name: string): number {
  const dir = credentialStateDir(l, name);
  try {
    lstatSync(dir);
  } catch {
    return 0;
  }
  const aside = asideName(dir);
  renameSync(dir, aside);
  fsyncDirectory(dirname(dir));
  let versions = 0;
  const shredTree = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const p = join(path, entry.name);
      if (entry.isDirectory()) shredTree(p);
      else if (entry.isFile()) {
        if (/^[1-9][0-9]*$/.test(entry.name)) versions++;
        shredFile(p);
      } else unlinkSync(p);
    }
    rmdirSync(path);
  };
  shredTree(aside);
  return versions;
}

/**
 * Removes a credential: the store file is first renamed to a hidden temporary name (so the name
 * is gone at once and a crash never leaves a half-wiped file under it), then its state directory
 * is moved aside the same way, then every file is overwritten and unlinked. A removal that was
 * interrupted is finished by the next `rm` (leftover history) or `doctor --fix` (hidden files).
 */
export async function removeCredential(l: StoreLayout, name: string): Promise<number> {
  assertCredentialName(name);
  assertUserCredential(l, name, "rm");
  assertStoreUsable(l);
  return withLock(lockFile(l), () => {
    const present = exists(l, name);
    if (!present && readMeta(l, name) === undefined && versionsOnDisk(l, name).length === 0) {
      throw new SecretError("CREDENTIAL_NOT_FOUND", `credential not found: ${name}`);
    }
    let aside: string | undefined;
    if (present) {
      aside = asideName(storeFile(l, name));
      renameSync(storeFile(l, name), aside);
      fsyncDirectory(l.store);
    }
    const versions = discardState(l, name);
    if (aside !== undefined) shredFile(aside);
    return versions;
  });
}
