/**
 * What the vault asks of storage (docs/vault-format.md section 5). Storage is untrusted and
 * dumb: it keeps opaque text under keys with a revision number, and applies a batch of
 * compare-and-swap writes all or nothing. Crypto, policy and audit sit above it.
 */
export interface StoredRecord {
  value: string;
  rev: number;
}

export interface CommitOp {
  key: string;
  /** The revision the record must have now; null: it must not exist. */
  expect: number | null;
  /** The new value; null deletes the record. */
  value: string | null;
}

export type CommitResult = "ok" | "conflict";

export interface VaultBackend {
  readonly kind: "file" | "postgres";
  /** A human-readable location for messages (never a password). */
  readonly location: string;
  read(key: string): Promise<StoredRecord | undefined>;
  readAll(prefix?: string): Promise<Map<string, StoredRecord>>;
  list(prefix?: string): Promise<string[]>;
  commit(ops: CommitOp[]): Promise<CommitResult>;
  close(): Promise<void>;
}
