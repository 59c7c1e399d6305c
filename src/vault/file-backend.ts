import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { fsyncDirectory, withLock, writeFileAtomic } from "../durable/index.js";
import { SecretError } from "../secret/index.js";
import { quoted } from "../secret/printable.js";
import type { CommitOp, CommitResult, StoredRecord, VaultBackend } from "./backend.js";

export const VAULT_FILE = "vault.json";
const FILE_FORMAT = "keyhold-vault-file/1";
const SHRED_PREFIX = `.${VAULT_FILE}.old-`;

interface FileDocument {
  format: string;
  records: Record<string, { r: number; v: string }>;
}

export interface FileBackendOptions {
  /** The directory holding vault.json (created 0700 when missing). */
  dir: string;
  /** Overwrite the replaced file's data before unlinking it (default true). */
  shred?: boolean;
}

function malformed(path: string): SecretError {
  return new SecretError("VAULT_TAMPERED", `vault file is not a valid keyhold vault: ${path}`, {
    hint: "restore the file from a backup; docs/vault.md says how",
  });
}

/** Overwrites a file's bytes with zeros and fsyncs before unlinking it (limits: docs/vault.md). */
function shredFile(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW);
  } catch {
    return;
  }
  try {
    const size = fstatSync(fd).size;
    const zeros = Buffer.alloc(Math.min(size, 1 << 20));
    for (let at = 0; at < size; ) at += writeSync(fd, zeros, 0, Math.min(zeros.length, size - at), at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  unlinkSync(path);
}

/**
 * The embedded default: every record in one JSON file, replaced whole and atomically under a
 * lock. Reads are cached and re-parsed only when the file's identity changes (every write is a
 * rename, so a new inode).
 */
export class FileBackend implements VaultBackend {
  readonly kind = "file" as const;
  readonly dir: string;
  readonly path: string;
  readonly #shred: boolean;
  #cache: { stamp: string; doc: FileDocument } | undefined;

  constructor(options: FileBackendOptions) {
    this.dir = options.dir;
    this.path = join(options.dir, VAULT_FILE);
    this.#shred = options.shred ?? true;
  }

  get location(): string {
    return this.path;
  }

  #load(): FileDocument {
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { format: FILE_FORMAT, records: {} };
      if ((err as NodeJS.ErrnoException).code === "ELOOP") {
        throw new SecretError("SYMLINK_REFUSED", `vault file is a symbolic link: ${this.path}`);
      }
      throw err;
    }
    try {
      const st = fstatSync(fd, { bigint: true });
      if (!st.isFile()) throw new SecretError("NOT_A_FILE", `vault file is not a regular file: ${this.path}`);
      const stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      if (this.#cache?.stamp === stamp) return this.#cache.doc;
      const text = readFileSync(fd, "utf8");
      let doc: FileDocument;
      try {
        doc = JSON.parse(text) as FileDocument;
      } catch {
        throw malformed(this.path);
      }
      if (
        typeof doc !== "object" ||
        doc === null ||
        typeof doc.records !== "object" ||
        doc.records === null
      ) {
        throw malformed(this.path);
      }
      if (doc.format !== FILE_FORMAT) {
        throw new SecretError(
          "FORMAT_UNSUPPORTED",
          `vault file format not supported: ${quoted(String(doc.format), 40)}`,
          {
            hint: "a newer keyhold wrote this file; upgrade keyhold",
          },
        );
      }
      for (const rec of Object.values(doc.records)) {
        if (typeof rec?.r !== "number" || typeof rec.v !== "string") throw malformed(this.path);
      }
      this.#cache = { stamp, doc };
      return doc;
    } finally {
      closeSync(fd);
    }
  }

  async read(key: string): Promise<StoredRecord | undefined> {
    const rec = this.#load().records[key];
    return rec === undefined ? undefined : { value: rec.v, rev: rec.r };
  }

  async readAll(prefix = ""): Promise<Map<string, StoredRecord>> {
    const out = new Map<string, StoredRecord>();
    for (const [key, rec] of Object.entries(this.#load().records)) {
      if (key.startsWith(prefix)) out.set(key, { value: rec.v, rev: rec.r });
    }
    return out;
  }

  async list(prefix = ""): Promise<string[]> {
    return Object.keys(this.#load().records)
      .filter((k) => k.startsWith(prefix))
      .sort();
  }

  async commit(ops: CommitOp[]): Promise<CommitResult> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    return withLock(`${this.path}.lock`, () => {
      this.#shredLeftovers();
      // #load re-reads unless the file is the very one cached (same inode, size and times): every
      // writer replaces it by rename, so an unchanged identity means unchanged content.
      const doc = this.#load();
      const records = { ...doc.records };
      for (const op of ops) {
        const now = records[op.key];
        if (op.expect === null ? now !== undefined : now?.r !== op.expect) return "conflict";
      }
      for (const op of ops) {
        if (op.value === null) delete records[op.key];
        else records[op.key] = { r: (records[op.key]?.r ?? 0) + 1, v: op.value };
      }
      const text = JSON.stringify({ format: FILE_FORMAT, records } satisfies FileDocument);
      let old: string | undefined;
      if (this.#shred) {
        old = join(this.dir, `${SHRED_PREFIX}${randomBytes(6).toString("hex")}`);
        try {
          linkSync(this.path, old);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
          old = undefined;
        }
      }
      writeFileAtomic(this.path, text, { mode: 0o600 });
      const st = statSync(this.path, { bigint: true });
      this.#cache = {
        stamp: `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`,
        doc: { format: FILE_FORMAT, records },
      };
      if (old !== undefined) {
        shredFile(old);
        fsyncDirectory(this.dir);
      }
      return "ok";
    });
  }

  /** A kill -9 between the rename and the shred leaves the old data under its hidden link. */
  #shredLeftovers(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    let live: bigint | undefined;
    try {
      live = statSync(this.path, { bigint: true }).ino;
    } catch {
      live = undefined;
    }
    for (const name of names) {
      if (!name.startsWith(SHRED_PREFIX)) continue;
      const leftover = join(this.dir, name);
      // Killed between the link and the rename, the leftover is still the live file: unlink only.
      if (live !== undefined && statSync(leftover, { bigint: true }).ino === live) unlinkSync(leftover);
      else shredFile(leftover);
    }
  }

  async close(): Promise<void> {
    this.#cache = undefined;
  }
}
