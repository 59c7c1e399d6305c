import {
  closeSync,
  constants,
  fdatasync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  type Stats,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import {
  crashPoint,
  discardStaged,
  fsyncAsync,
  installStagedAsync,
  type StagedFile,
  stageFileAtomic,
  withLock,
  writeFileAtomic,
} from "../durable/index.js";
import { SecretError, type SecretKey } from "../secret/index.js";
import {
  type AuditDetail,
  type AuditEvent,
  type AuditHead,
  type AuditRecord,
  HEAD_ZERO,
  MAX_RECORD_BYTES,
  type PositionFile,
  parseHead,
  sealHead,
  sealRecord,
  sha256Hex,
} from "./format.js";
import { type AnchorInput, type AuditReport, parseRawLine, splitLines, verifyLog } from "./verify.js";

/**
 * What a part that records events needs of the audit log (the job server, the vault, the CLI):
 * appending one. AuditLog is the real one; a part is given it, never opens its own.
 */
export interface AuditSink {
  append(event: AuditEvent): Promise<unknown>;
}

export interface AuditLogOptions {
  path: string;
  key: SecretKey;
  /** Where SUDO_USER is read from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** How long an append waits for another process's append; default 10 s. */
  lockTimeoutMs?: number;
  /**
   * The anchor (docs/audit-format.md, "The anchor"): a second sealed copy of the head, kept
   * where removing the log's own files does not reach, so a deleted log is found and no new
   * chain starts over it. openStateAuditLog sets it; without it a log has no anchor.
   */
  anchor?: {
    path: string;
    /** The anchor was made with the key: its absence next to a missing log and head is a deletion. */
    expected: boolean;
  };
}

const RESULTS = new Set(["ok", "denied", "error"]);

// On the thread pool (fsyncAsync too), so that the fsyncs of one append run side by side (see
// #seal), and so that a server appending (the job server) never waits for the disk on its event loop.
const fdatasyncAsync = promisify(fdatasync);

const RESTART_HINT =
  "to start a new log deliberately (recorded, the old files kept): keyhold audit --restart";

function tampered(message: string): SecretError {
  return new SecretError("AUDIT_TAMPERED", message, {
    hint: `run 'keyhold audit --verify' and keep its output as evidence; ${RESTART_HINT}`,
  });
}

/** Opens the log itself: never through a symlink, created 0600 (the umask can only narrow it). */
function openLog(path: string, flags: number): number {
  try {
    return openSync(path, flags | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ELOOP")
      throw new SecretError("SYMLINK_REFUSED", `audit log is a symbolic link: ${path}`, { cause: err });
    if (code === "ENOENT")
      throw new SecretError("FILE_NOT_FOUND", `audit log directory not found: ${dirname(path)}`, {
        cause: err,
      });
    throw new SecretError("IO_ERROR", `cannot open the audit log ${path}: ${code ?? "error"}`, {
      cause: err,
    });
  }
}

/** The size of the log file, 0 if there is none: never through a symlink, never anything but a file. */
function logSize(path: string): number {
  let stat: Stats;
  try {
    stat = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw new SecretError("IO_ERROR", `cannot stat the audit log ${path}`, { cause: err });
  }
  if (stat.isSymbolicLink())
    throw new SecretError("SYMLINK_REFUSED", `audit log is a symbolic link: ${path}`);
  if (!stat.isFile()) throw new SecretError("NOT_A_FILE", `audit log is not a regular file: ${path}`);
  return stat.size;
}

/** Whether there is a directory entry at `path` (a symbolic link counts, whatever it points to). */
function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** The file's bytes, or null if it does not exist; a symlink is refused (ELOOP). */
function readOptional(path: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readRange(fd: number, start: number, end: number): Buffer {
  const buf = Buffer.alloc(end - start);
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, start + done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

function writeAll(fd: number, bytes: Buffer): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** Copies only the fields an event may have, refusing anything that is not plain and non-secret. */
function checkedEvent(event: AuditEvent): AuditEvent {
  const bad = (what: string) => new SecretError("INVALID_FORMAT", `audit event: ${what}`);
  if (typeof event !== "object" || event === null) throw bad("must be an object");
  if (typeof event.op !== "string" || event.op.length === 0) throw bad("op must be a non-empty string");
  if (!RESULTS.has(event.result)) throw bad("result must be ok, denied or error");
  if (event.name !== undefined && typeof event.name !== "string") throw bad("name must be a string");
  if (event.code !== undefined && typeof event.code !== "string") throw bad("code must be a string");
  const out: AuditEvent = { op: event.op, result: event.result };
  if (event.name !== undefined) out.name = event.name;
  if (event.code !== undefined) out.code = event.code;
  if (event.detail !== undefined) {
    if (typeof event.detail !== "object" || event.detail === null || Array.isArray(event.detail)) {
      throw bad("detail must be an object");
    }
    const entries = Object.entries(event.detail);
    for (const [k, v] of entries) {
      const plain =
        typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
      if (!plain) throw bad(`detail ${JSON.stringify(k)} must be a string, a finite number or a boolean`);
    }
    out.detail = Object.fromEntries(entries); // own data properties only, "__proto__" included
  }
  return out;
}

/**
 * The append-only, hash-chained, HMAC-keyed audit log of docs/audit-format.md. Holds no file
 * open between calls: every append takes the lock, repairs what an interrupted append left
 * (see "Appending"), writes one line, fsyncs it and seals the head.
 */
export class AuditLog implements AuditSink {
  readonly path: string;
  readonly #key: SecretKey;
  readonly #env: NodeJS.ProcessEnv;
  readonly #lockTimeoutMs: number | undefined;
  readonly #anchor: AuditLogOptions["anchor"];

  private constructor(options: AuditLogOptions) {
    this.path = options.path;
    this.#key = options.key;
    this.#env = options.env ?? process.env;
    this.#lockTimeoutMs = options.lockTimeoutMs;
    this.#anchor = options.anchor;
  }

  get headPath(): string {
    return `${this.path}.head`;
  }

  get lockPath(): string {
    return `${this.path}.lock`;
  }

  /**
   * Opens the log at `path`. A new log is created empty (mode 0600) with a head (and anchor)
   * sealing seq 0, so that from then on a missing head is always a finding, never a normal
   * state; but not where the anchor says a log was there before (that is for verify to report).
   * An existing log is left as it is: one from before anchors gets its anchor with its next append.
   */
  static async open(options: AuditLogOptions): Promise<AuditLog> {
    const log = new AuditLog(options);
    // A log with records or a head is never created, and under the lock would be left as it is:
    // finding that out needs no lock (the usual case: every audited command opens the log).
    if (!log.#exists()) await withLock(log.lockPath, () => log.#create(), log.#lockTimeoutMs);
    return log;
  }

  #exists(): boolean {
    return logSize(this.path) > 0 || present(this.headPath);
  }

  async #create(): Promise<void> {
    if (this.#exists() || this.#deletedHistory() !== undefined) return;
    closeSync(openLog(this.path, constants.O_RDONLY | constants.O_CREAT));
    // Also makes the new log's directory entry durable: both files live in one directory.
    await this.#seal(HEAD_ZERO);
  }

  /**
   * Why a missing log and head must not be started afresh (the anchor says there was a log, or
   * cannot be trusted, or is missing although the key was made with one); undefined if they may.
   */
  #deletedHistory(): string | undefined {
    if (this.#anchor === undefined) return undefined;
    const text = readOptional(this.#anchor.path);
    if (text === null)
      return this.#anchor.expected
        ? "the log, its head and its anchor are gone while the audit key is there: the log was deleted (or, for a key made elsewhere, never started here: keyhold audit --restart starts it)"
        : undefined;
    const anchor = parseHead(text.toString("utf8"), this.#key, "anchor");
    if (typeof anchor === "string") return `the log and its head are gone and ${anchor}`;
    if (anchor.seq === 0) return undefined;
    return `the log and its head are gone, but its anchor seals seq ${anchor.seq}: the log was deleted`;
  }

  /**
   * The anchor as an append sees it: never ahead of the head (records cut off, or an older head
   * put back), the same position when level with it; one behind when an append died before
   * updating it. Returns whether it lags (then the next seal catches it up).
   */
  #checkAnchor(head: AuditHead): boolean {
    if (this.#anchor === undefined) return false;
    const text = readOptional(this.#anchor.path);
    if (text === null) return true; // a log from before anchors, or a lost anchor: the head still seals the log
    const anchor = parseHead(text.toString("utf8"), this.#key, "anchor");
    if (typeof anchor === "string") throw tampered(`refusing to append to ${this.path}: ${anchor}`);
    if (anchor.seq > head.seq)
      throw tampered(
        `refusing to append to ${this.path}: its anchor seals seq ${anchor.seq} but its head only seq ${head.seq} (records were cut off)`,
      );
    if (anchor.seq === head.seq && (anchor.hash !== head.hash || anchor.size !== head.size))
      throw tampered(`refusing to append to ${this.path}: its head and its anchor seal different records`);
    return anchor.seq < head.seq;
  }

  /**
   * Seals `head`: the head file first (durable, directory fsynced), then the anchor, so the
   * anchor never runs ahead of it. With `anchorMayLag` (a plain append) the anchor's directory
   * is not fsynced: a crash can then only leave the anchor one record behind the head, which
   * every reader accepts and the next append catches up; the next head's directory fsync (the
   * same directory for keyhold's logs) makes it durable anyway. A restart's first record moves
   * the anchor to a new chain, where an old anchor is no lag but a refusal: there (and after a
   * repair) it is fsynced like the head.
   *
   * The new head and anchor are written to their temporary files first and fsynced together
   * with `log` (fdatasync: the record's bytes and the size that reaches them), the record just
   * appended to it: three independent files, none visible before its rename, so their flushes
   * run side by side and the file system may serve them with one commit. Only once all three
   * are durable is the head renamed into place (a head never seals a record a power loss could
   * take back), then the anchor. A kill before the renames leaves the temporary files, which
   * the next append removes with the repair it makes (#removeDeadTemporaryHeads).
   */
  async #seal(head: AuditHead, anchorMayLag = false, log?: number): Promise<void> {
    const staged: StagedFile[] = [];
    try {
      staged.push(stageFileAtomic(this.headPath, sealHead(head, this.#key), { mode: 0o600 }));
      if (this.#anchor !== undefined)
        staged.push(stageFileAtomic(this.#anchor.path, sealHead(head, this.#key, "anchor"), { mode: 0o600 }));
      // allSettled: no descriptor is closed while a flush on it is still running.
      const flushed = await Promise.allSettled([
        ...(log === undefined ? [] : [fdatasyncAsync(log)]),
        ...staged.map((file) => fsyncAsync(file.fd)),
      ]);
      for (const f of flushed) if (f.status === "rejected") throw f.reason;
      crashPoint("audit:record-synced");
      const [newHead, newAnchor] = staged as [StagedFile, StagedFile | undefined];
      await installStagedAsync(newHead);
      crashPoint("audit:head-sealed");
      if (newAnchor !== undefined) await installStagedAsync(newAnchor, { syncDirectory: !anchorMayLag });
      crashPoint("audit:anchor-sealed");
    } finally {
      for (const file of staged) if (file.open) discardStaged(file);
    }
  }

  async append(event: AuditEvent): Promise<AuditRecord> {
    const checked = checkedEvent(event);
    return withLock(this.lockPath, () => this.#appendLocked(checked), this.#lockTimeoutMs);
  }

  /**
   * Checks, under the lock, that the next append will succeed (the head verifies, nothing
   * unexpected follows it; an interrupted append is repaired as append would). Callers run it
   * before an irreversible operation, so one that could not be recorded does not happen.
   */
  async ensureWritable(): Promise<void> {
    if (this.#level()) return;
    await withLock(
      this.lockPath,
      async () => {
        const head = this.#readHead();
        const fd = openLog(this.path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT);
        try {
          await this.#repair(fd, head);
        } finally {
          closeSync(fd);
        }
      },
      this.#lockTimeoutMs,
    );
  }

  /**
   * Whether the head verifies and the log ends exactly where it says, and the anchor (for a log
   * with one) verifies and seals the same position: then an append needs no repair and will not
   * refuse, and ensureWritable has nothing to do. Read without the lock: an append running
   * meanwhile can only make the three disagree (it grows the log, then replaces the head, then
   * the anchor), and anything but this one clean state is left to the check under the lock.
   */
  #level(): boolean {
    try {
      const headText = readOptional(this.headPath);
      if (headText === null) return false;
      const head = parseHead(headText.toString("utf8"), this.#key);
      if (typeof head === "string" || logSize(this.path) !== head.size) return false;
      if (this.#anchor === undefined) return true;
      const anchorText = readOptional(this.#anchor.path);
      if (anchorText === null) return false;
      const anchor = parseHead(anchorText.toString("utf8"), this.#key, "anchor");
      return (
        typeof anchor !== "string" &&
        anchor.seq === head.seq &&
        anchor.size === head.size &&
        anchor.hash === head.hash
      );
    } catch {
      return false; // a symbolic link, say: the check under the lock says what is wrong
    }
  }

  async #appendLocked(event: AuditEvent): Promise<AuditRecord> {
    const head = this.#readHead();
    // O_CREAT: a log without a head may start afresh when #readHead allowed it.
    const fd = openLog(this.path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT);
    try {
      return (await this.#write(fd, await this.#repair(fd, head), event, true)).record;
    } finally {
      closeSync(fd);
    }
  }

  /** The sealed head an append continues from; refuses (changing nothing) a log it cannot trust. */
  #readHead(): AuditHead {
    const text = readOptional(this.headPath);
    if (text === null) {
      // Only a log that never had a head (both files new) may go without one.
      if (logSize(this.path) > 0)
        throw tampered(`refusing to append to ${this.path}: its head file is missing`);
      const deleted = this.#deletedHistory();
      if (deleted !== undefined)
        throw tampered(`refusing to start a new audit log at ${this.path}: ${deleted}`);
      return HEAD_ZERO;
    }
    const head = parseHead(text.toString("utf8"), this.#key);
    if (typeof head === "string") throw tampered(`refusing to append to ${this.path}: ${head}`);
    return head;
  }

  /**
   * Resolves what an interrupted append may have left past the sealed head, and returns the head
   * to append after: exactly one valid record that follows the head is kept and sealed (its
   * append died before sealing it); bytes without a newline are a torn line, cut off and
   * recorded with an audit.repair record. Anything else is tampering: refuse, change nothing.
   */
  async #repair(fd: number, head: AuditHead): Promise<AuditHead> {
    const size = fstatSync(fd).size;
    if (size < head.size) {
      throw tampered(
        `refusing to append to ${this.path}: the log is shorter than its sealed head (truncated)`,
      );
    }
    const anchorLags = this.#checkAnchor(head);
    if (size === head.size) {
      if (anchorLags) this.#removeDeadTemporaryHeads();
      return head;
    }
    const { lines, torn } = splitLines(readRange(fd, head.size, size));
    let repaired: AuditHead;
    if (lines.length === 0) {
      ftruncateSync(fd, head.size);
      await fsyncAsync(fd);
      const detail = { discardedBytes: torn.length };
      repaired = (await this.#write(fd, head, { op: "audit.repair", result: "ok", detail })).head;
    } else {
      const only =
        lines.length === 1 && torn.length === 0 ? parseRawLine(lines[0]!.raw, this.#key) : undefined;
      if (only?.kind !== "record" || only.record.seq !== head.seq + 1 || only.record.prev !== head.hash) {
        throw tampered(`refusing to append to ${this.path}: unexpected data after the sealed head`);
      }
      repaired = { seq: only.record.seq, size, hash: sha256Hex(lines[0]!.raw) };
      await this.#seal(repaired);
    }
    this.#removeDeadTemporaryHeads();
    return repaired;
  }

  /**
   * An append killed while replacing the head or the anchor leaves its temporary file behind.
   * Under the lock no other head or anchor is being written, so every such file is debris.
   */
  #removeDeadTemporaryHeads(): void {
    const sealed = [this.headPath, ...(this.#anchor === undefined ? [] : [this.#anchor.path])];
    for (const file of sealed) {
      const prefix = `.${basename(file)}.tmp-`;
      for (const entry of readdirSync(dirname(file))) {
        if (entry.startsWith(prefix)) rmSync(join(dirname(file), entry), { force: true });
      }
    }
  }

  /** Writes one record after `head` in one write, then seals the new head with it (see #seal). */
  async #write(
    fd: number,
    head: AuditHead,
    event: AuditEvent,
    anchorMayLag = false,
  ): Promise<{ record: AuditRecord; head: AuditHead }> {
    const sudoUser = this.#env.SUDO_USER;
    const { line, record } = sealRecord(
      {
        v: 1,
        seq: head.seq + 1,
        time: new Date().toISOString(),
        uid: process.getuid?.() ?? 0,
        ...(sudoUser ? { sudoUser } : {}),
        pid: process.pid,
        ...event,
        prev: head.hash,
      },
      this.#key,
    );
    const bytes = Buffer.from(`${line}\n`, "utf8");
    if (bytes.length > MAX_RECORD_BYTES) {
      throw new SecretError(
        "TOO_LARGE",
        `audit record is ${bytes.length} bytes; the limit is ${MAX_RECORD_BYTES}`,
      );
    }
    writeAll(fd, bytes);
    crashPoint("audit:record-written");
    const next: AuditHead = { seq: record.seq, size: head.size + bytes.length, hash: sha256Hex(line) };
    await this.#seal(next, anchorMayLag, fd);
    return { record, head: next };
  }

  /**
   * Every complete record, in file order, parsed but NOT authenticated: use verify() for that.
   * A torn last line is skipped; any other line that is not a record is AUDIT_TAMPERED.
   */
  async read(): Promise<AuditRecord[]> {
    const log = await withLock(this.lockPath, () => readOptional(this.path), this.#lockTimeoutMs);
    const { lines } = splitLines(log ?? Buffer.alloc(0));
    return lines.map((l, i) => {
      let value: unknown;
      try {
        value = JSON.parse(l.raw.toString("utf8"));
      } catch {
        value = undefined;
      }
      if (typeof value !== "object" || value === null || typeof (value as AuditRecord).seq !== "number") {
        throw tampered(`line ${i + 1} of ${this.path} is not an audit record`);
      }
      return value as AuditRecord;
    });
  }

  /** Checks the whole log, its head and its anchor (docs/audit-format.md, "Verifying"); changes nothing. */
  async verify(): Promise<AuditReport> {
    // Under the lock, so the log, the head and the anchor are read as one consistent set.
    const [log, head, anchor] = await withLock(
      this.lockPath,
      () =>
        [
          readOptional(this.path),
          readOptional(this.headPath),
          this.#anchor === undefined ? null : readOptional(this.#anchor.path),
        ] as const,
      this.#lockTimeoutMs,
    );
    const anchorInput: AnchorInput | undefined =
      this.#anchor === undefined
        ? undefined
        : { text: anchor === null ? null : anchor.toString("utf8"), expected: this.#anchor.expected };
    return verifyLog(
      log ?? Buffer.alloc(0),
      head === null ? null : head.toString("utf8"),
      this.#key,
      anchorInput,
    );
  }

  /**
   * Starts a new log deliberately (docs/audit-format.md, "Recovering"): under the lock, moves
   * the log and its head aside (kept, never deleted) as `<file>.restarted-<time>`, starts a new
   * chain and writes its first record, `audit.restart`, naming the position the anchor (or, for
   * a log without one, the head) sealed before. The anchor then follows the new log.
   */
  async restart(): Promise<{
    record: AuditRecord;
    previous: AuditHead | null;
    moved: { from: string; to: string }[];
  }> {
    return withLock(
      this.lockPath,
      async () => {
        const previous = this.#previousPosition();
        const suffix = `.restarted-${new Date().toISOString().replace(/[-:.]/g, "")}`;
        const moved: { from: string; to: string }[] = [];
        for (const from of [this.path, this.headPath]) {
          if (!present(from)) continue;
          renameSync(from, `${from}${suffix}`); // in the same directory: the log is never copied
          moved.push({ from, to: `${from}${suffix}` });
        }
        const flags = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL;
        const fd = openLog(this.path, flags);
        try {
          fsyncSync(fd);
          // The head only: the anchor keeps the old position until the first record is sealed,
          // so a restart that dies half-way leaves a log that refuses appends, not a clean empty one.
          // (Its directory fsync also makes the renames durable.)
          writeFileAtomic(this.headPath, sealHead(HEAD_ZERO, this.#key), { mode: 0o600 });
          const detail: AuditDetail =
            previous === null
              ? { previous: "unknown" }
              : { previousSeq: previous.seq, previousHash: previous.hash };
          const { record } = await this.#write(fd, HEAD_ZERO, { op: "audit.restart", result: "ok", detail });
          return { record, previous, moved };
        } finally {
          closeSync(fd);
        }
      },
      this.#lockTimeoutMs,
    );
  }

  /** The furthest position sealed before a restart, by the anchor or the head; null if neither verifies. */
  #previousPosition(): AuditHead | null {
    let furthest: AuditHead | null = null;
    const sealedFiles: [string | undefined, PositionFile][] = [
      [this.#anchor?.path, "anchor"],
      [this.headPath, "head"],
    ];
    for (const [path, file] of sealedFiles) {
      const text = path === undefined ? null : readOptional(path);
      const sealed = text === null ? "none" : parseHead(text.toString("utf8"), this.#key, file);
      if (typeof sealed !== "string" && (furthest === null || sealed.seq > furthest.seq)) furthest = sealed;
    }
    return furthest;
  }
}
