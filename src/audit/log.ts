import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  type Stats,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { withLock, writeFileAtomic } from "../durable/index.js";
import { SecretError, type SecretKey } from "../secret/index.js";
import {
  type AuditEvent,
  type AuditHead,
  type AuditRecord,
  GENESIS,
  MAX_RECORD_BYTES,
  parseHead,
  sealHead,
  sealRecord,
  sha256Hex,
} from "./format.js";
import { type AuditReport, parseRawLine, splitLines, verifyLog } from "./verify.js";

export interface AuditLogOptions {
  path: string;
  key: SecretKey;
  /** Where SUDO_USER is read from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** How long an append waits for another process's append; default 10 s. */
  lockTimeoutMs?: number;
}

const RESULTS = new Set(["ok", "denied", "error"]);
/** The head of a log with no records: written when the log is created. */
const HEAD_ZERO: AuditHead = { seq: 0, size: 0, hash: GENESIS };

function tampered(message: string): SecretError {
  return new SecretError("AUDIT_TAMPERED", message, {
    hint: "run 'keyhold audit --verify'; docs/audit-format.md (Recovering) says how to start a new log",
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
export class AuditLog {
  readonly path: string;
  readonly #key: SecretKey;
  readonly #env: NodeJS.ProcessEnv;
  readonly #lockTimeoutMs: number | undefined;

  private constructor(options: AuditLogOptions) {
    this.path = options.path;
    this.#key = options.key;
    this.#env = options.env ?? process.env;
    this.#lockTimeoutMs = options.lockTimeoutMs;
  }

  get headPath(): string {
    return `${this.path}.head`;
  }

  get lockPath(): string {
    return `${this.path}.lock`;
  }

  /**
   * Opens the log at `path`. A new log is created empty (mode 0600) with a head sealing seq 0,
   * so that from then on a missing head is always a finding, never a normal state.
   */
  static async open(options: AuditLogOptions): Promise<AuditLog> {
    const log = new AuditLog(options);
    await withLock(log.lockPath, () => log.#create(), log.#lockTimeoutMs);
    return log;
  }

  #create(): void {
    const fd = openLog(this.path, constants.O_RDONLY | constants.O_CREAT);
    let stat: Stats;
    try {
      stat = fstatSync(fd);
    } finally {
      closeSync(fd);
    }
    if (!stat.isFile()) throw new SecretError("NOT_A_FILE", `audit log is not a regular file: ${this.path}`);
    if (stat.size > 0 || readOptional(this.headPath) !== null) return;
    // Also makes the new log's directory entry durable: both files live in one directory.
    writeFileAtomic(this.headPath, sealHead(HEAD_ZERO, this.#key), { mode: 0o600 });
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
    await withLock(
      this.lockPath,
      () => {
        const fd = openLog(this.path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT);
        try {
          this.#repair(fd, this.#readHead(fd));
        } finally {
          closeSync(fd);
        }
      },
      this.#lockTimeoutMs,
    );
  }

  #appendLocked(event: AuditEvent): AuditRecord {
    // O_CREAT: an operator may have moved both files aside to start a new log (see "Recovering").
    const fd = openLog(this.path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT);
    try {
      const head = this.#repair(fd, this.#readHead(fd));
      return this.#write(fd, head, event).record;
    } finally {
      closeSync(fd);
    }
  }

  #readHead(fd: number): AuditHead {
    const text = readOptional(this.headPath);
    if (text === null) {
      // Only a log that never had a head (both files new) may go without one.
      if (fstatSync(fd).size > 0)
        throw tampered(`refusing to append to ${this.path}: its head file is missing`);
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
  #repair(fd: number, head: AuditHead): AuditHead {
    const size = fstatSync(fd).size;
    if (size < head.size) {
      throw tampered(
        `refusing to append to ${this.path}: the log is shorter than its sealed head (truncated)`,
      );
    }
    if (size === head.size) return head;
    const { lines, torn } = splitLines(readRange(fd, head.size, size));
    let repaired: AuditHead;
    if (lines.length === 0) {
      ftruncateSync(fd, head.size);
      fsyncSync(fd);
      const detail = { discardedBytes: torn.length };
      repaired = this.#write(fd, head, { op: "audit.repair", result: "ok", detail }).head;
    } else {
      const only =
        lines.length === 1 && torn.length === 0 ? parseRawLine(lines[0]!.raw, this.#key) : undefined;
      if (only?.kind !== "record" || only.record.seq !== head.seq + 1 || only.record.prev !== head.hash) {
        throw tampered(`refusing to append to ${this.path}: unexpected data after the sealed head`);
      }
      repaired = { seq: only.record.seq, size, hash: sha256Hex(lines[0]!.raw) };
      writeFileAtomic(this.headPath, sealHead(repaired, this.#key), { mode: 0o600 });
    }
    this.#removeDeadTemporaryHeads();
    return repaired;
  }

  /**
   * An append killed while replacing the head leaves its temporary file behind. Under the lock
   * no other head is being written, so every such file is debris.
   */
  #removeDeadTemporaryHeads(): void {
    const prefix = `.${basename(this.headPath)}.tmp-`;
    for (const entry of readdirSync(dirname(this.path))) {
      if (entry.startsWith(prefix)) rmSync(join(dirname(this.path), entry), { force: true });
    }
  }

  /** Writes one record after `head`, fsyncs the log, then seals the new head. */
  #write(fd: number, head: AuditHead, event: AuditEvent): { record: AuditRecord; head: AuditHead } {
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
    fsyncSync(fd);
    const next: AuditHead = { seq: record.seq, size: head.size + bytes.length, hash: sha256Hex(line) };
    writeFileAtomic(this.headPath, sealHead(next, this.#key), { mode: 0o600 });
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

  /** Checks the whole log and its head (docs/audit-format.md, "Verifying"); changes nothing. */
  async verify(): Promise<AuditReport> {
    // Under the lock, so the log and the head are read as one consistent pair.
    const [log, head] = await withLock(
      this.lockPath,
      () => [readOptional(this.path), readOptional(this.headPath)] as const,
      this.#lockTimeoutMs,
    );
    return verifyLog(log ?? Buffer.alloc(0), head === null ? null : head.toString("utf8"), this.#key);
  }
}
