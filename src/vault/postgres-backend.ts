import type { Pool, PoolClient, PoolConfig } from "pg";
import { SecretError } from "../secret/index.js";
import { printable } from "../secret/printable.js";
import type { CommitOp, CommitResult, StoredRecord, VaultBackend } from "./backend.js";

export const POSTGRES_TABLE = "keyhold_vault_records";

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${POSTGRES_TABLE} (
  store text NOT NULL,
  key text NOT NULL,
  rev bigint NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (store, key))`;

export interface PostgresBackendOptions {
  /** node-postgres pool settings (host, port, user, database, ssl, …); or pass `pool`. */
  config?: PoolConfig;
  pool?: Pool;
  /** Names one vault in a shared database (default "default"). */
  store?: string;
}

// Serialisation failures and deadlocks are another writer winning: report a conflict and retry.
const RETRYABLE = new Set(["40001", "40P01", "23505"]);

function unreachable(err: unknown): SecretError {
  // The server's own words: whoever runs it chooses them, control characters included.
  const reason =
    err instanceof Error ? printable((err.message.split("\n")[0] ?? "").slice(0, 200)) : "unknown error";
  return new SecretError("IO_ERROR", `PostgreSQL vault store unreachable: ${reason}`, {
    hint: "check the connection settings (KEYHOLD_VAULT_PG or PG* variables) and that the server runs",
    cause: err,
  });
}

/**
 * The vault's records in one PostgreSQL table, shared by several hosts
 * (docs/vault-format.md section 5.2). Each commit is one transaction of conditional writes;
 * a zero row count anywhere rolls it back and reports a conflict, so writers never lose updates.
 */
export class PostgresBackend implements VaultBackend {
  readonly kind = "postgres" as const;
  readonly store: string;
  readonly #pool: Pool;
  readonly #ownsPool: boolean;
  readonly location: string;

  private constructor(pool: Pool, ownsPool: boolean, store: string, location: string) {
    this.#pool = pool;
    this.#ownsPool = ownsPool;
    this.store = store;
    this.location = location;
  }

  static async connect(options: PostgresBackendOptions): Promise<PostgresBackend> {
    let pool = options.pool;
    const owns = pool === undefined;
    if (pool === undefined) {
      const pg = await import("pg");
      pool = new pg.default.Pool({ max: 4, ...(options.config ?? {}) });
    }
    const c = options.config ?? {};
    const location = `postgresql://${c.host ?? "localhost"}${c.port === undefined ? "" : `:${c.port}`}/${c.database ?? ""} (store ${options.store ?? "default"})`;
    const backend = new PostgresBackend(pool, owns, options.store ?? "default", location);
    try {
      await pool.query(CREATE_TABLE);
    } catch (err) {
      // Two hosts creating the table at once can race on the catalog; the table exists then.
      if ((err as { code?: string }).code !== "23505") {
        if (owns) await pool.end().catch(() => undefined);
        throw unreachable(err);
      }
    }
    return backend;
  }

  async #query<R extends object>(text: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.#pool.query(text, values)).rows as R[];
    } catch (err) {
      throw unreachable(err);
    }
  }

  async read(key: string): Promise<StoredRecord | undefined> {
    const rows = await this.#query<{ value: string; rev: string }>(
      `SELECT value, rev FROM ${POSTGRES_TABLE} WHERE store = $1 AND key = $2`,
      [this.store, key],
    );
    const row = rows[0];
    return row === undefined ? undefined : { value: row.value, rev: Number(row.rev) };
  }

  async readAll(prefix = ""): Promise<Map<string, StoredRecord>> {
    const rows = await this.#query<{ key: string; value: string; rev: string }>(
      `SELECT key, value, rev FROM ${POSTGRES_TABLE} WHERE store = $1 AND starts_with(key, $2) ORDER BY key`,
      [this.store, prefix],
    );
    return new Map(rows.map((r) => [r.key, { value: r.value, rev: Number(r.rev) }]));
  }

  async list(prefix = ""): Promise<string[]> {
    const rows = await this.#query<{ key: string }>(
      `SELECT key FROM ${POSTGRES_TABLE} WHERE store = $1 AND starts_with(key, $2) ORDER BY key`,
      [this.store, prefix],
    );
    return rows.map((r) => r.key);
  }

  async commit(ops: CommitOp[]): Promise<CommitResult> {
    // A fixed order (head last) keeps concurrent transactions from deadlocking on each other's rows.
    const ordered = [...ops].sort((a, b) =>
      a.key === "head" ? 1 : b.key === "head" ? -1 : a.key < b.key ? -1 : 1,
    );
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw unreachable(err);
    }
    try {
      await client.query("BEGIN");
      for (const op of ordered) {
        let count: number | null;
        if (op.expect === null) {
          if (op.value === null) continue;
          const r = await client.query(
            `INSERT INTO ${POSTGRES_TABLE} (store, key, rev, value) VALUES ($1, $2, 1, $3) ON CONFLICT DO NOTHING`,
            [this.store, op.key, op.value],
          );
          count = r.rowCount;
        } else if (op.value === null) {
          const r = await client.query(
            `DELETE FROM ${POSTGRES_TABLE} WHERE store = $1 AND key = $2 AND rev = $3`,
            [this.store, op.key, op.expect],
          );
          count = r.rowCount;
        } else {
          const r = await client.query(
            `UPDATE ${POSTGRES_TABLE} SET value = $4, rev = rev + 1 WHERE store = $1 AND key = $2 AND rev = $3`,
            [this.store, op.key, op.expect, op.value],
          );
          count = r.rowCount;
        }
        if (count !== 1) {
          await client.query("ROLLBACK");
          return "conflict";
        }
      }
      await client.query("COMMIT");
      return "ok";
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      if (RETRYABLE.has((err as { code?: string }).code ?? "")) return "conflict";
      throw unreachable(err);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }
}
