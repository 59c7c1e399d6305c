import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomicAsync } from "../durable/index.js";

/**
 * Run records: one JSON file per run under `<stateDir>/runs/`, replaced atomically on every
 * state change (docs/jobserver-protocol.md, "The run record"). A record is never lost to a
 * crash: it is either the previous state or the new one. At start the server marks runs that
 * were queued or running when the last server died as `interrupted`.
 *
 * The flushes run on the thread pool, never on the server's event loop. What the server shows of
 * a record (get, list) is what is on disk: a new record, or a change to one, is held only once it
 * is durable, and whoever saves it waits for that before telling anyone (scheduler.ts, server.ts).
 * The writes of one record are made one after the other, in the order asked for.
 */

export type RunState =
  | "queued"
  | "running"
  | "succeeded"
  | "failed"
  | "timed_out"
  | "cancelled"
  | "error"
  | "interrupted";

export type RunErrorCode =
  | "CODE_NOT_COMMITTED"
  | "SNAPSHOT_LIMIT"
  | "SNAPSHOT_FAILED"
  | "ISOLATION_FAILED"
  | "CREDENTIAL_UNAVAILABLE"
  | "SPAWN_FAILED"
  | "OUTPUT_FAILED"
  | "TIMEOUT"
  | "CANCELLED"
  | "SHUTTING_DOWN"
  | "INTERRUPTED";

export interface Requester {
  user: string | null;
  uid: number | null;
  /** Always false: the claim comes from the client (Node offers no SO_PEERCRED). */
  verified: false;
}

export interface RunRecord {
  id: string;
  job: string;
  state: RunState;
  requester: Requester;
  params: Record<string, string>;
  queuedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  exitCode: number | null;
  signal: string | null;
  revision: string | null;
  error: { code: RunErrorCode; message: string } | null;
  log: string | null;
}

export const FINAL_STATES: ReadonlySet<RunState> = new Set([
  "succeeded",
  "failed",
  "timed_out",
  "cancelled",
  "error",
  "interrupted",
]);

export const RUN_ID = /^[0-9a-z]{8,12}-[0-9a-f]{8}$/;

let lastMillis = 0;
/** Time-ordered ids: base-36 milliseconds (never going backwards in this process), then random. */
export function newRunId(): string {
  lastMillis = Math.max(Date.now(), lastMillis);
  return `${lastMillis.toString(36).padStart(9, "0")}-${randomBytes(4).toString("hex")}`;
}

export class RunRecordStore {
  readonly dir: string;
  readonly #records = new Map<string, RunRecord>();
  /** The last write asked for of each record, until it ends (settled: it never rejects). */
  readonly #writing = new Map<string, Promise<void>>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, "runs");
  }

  /** Reads every record; those left queued or running by a dead server become interrupted. */
  async open(): Promise<{ loaded: number; interrupted: number }> {
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    const marked: Promise<void>[] = [];
    // Sorted, so the map's insertion order is the runs' order (ids are time-ordered): the oldest
    // records are its first keys, which is what prune() removes.
    for (const file of readdirSync(this.dir).sort()) {
      if (!file.endsWith(".json") || file.startsWith(".")) continue;
      const id = file.slice(0, -".json".length);
      if (!RUN_ID.test(id)) continue;
      let record: RunRecord;
      try {
        record = JSON.parse(readFileSync(join(this.dir, file), "utf8")) as RunRecord;
      } catch {
        continue; // not ours or unreadable: ignore rather than refuse to start
      }
      if (record.id !== id) continue;
      this.#records.set(id, record);
      if (!FINAL_STATES.has(record.state)) {
        marked.push(
          this.save(record, {
            state: "interrupted",
            endedAt: new Date().toISOString(),
            error: { code: "INTERRUPTED", message: "the server stopped while the run was queued or running" },
          }),
        );
      }
    }
    await Promise.all(marked);
    return { loaded: this.#records.size, interrupted: marked.length };
  }

  /**
   * Writes `record` with `change` applied; once that is durable, applies `change` to `record` and
   * holds it (a new record from then on). Resolves then; if the write fails, nothing is applied
   * or held. Runs after every earlier write of the same record has ended, so an older state is
   * never renamed over a newer one.
   */
  save(record: RunRecord, change: Partial<RunRecord> = {}): Promise<void> {
    const text = `${JSON.stringify({ ...record, ...change })}\n`;
    return this.#write(record.id, async () => {
      // 0644: the people who may trigger jobs may read what happened; records hold no values.
      await writeFileAtomicAsync(this.#path(record.id), text, { mode: 0o644 });
      Object.assign(record, change);
      this.#records.set(record.id, record);
    });
  }

  /** Resolves once every write asked for so far has ended, whether it succeeded or not. */
  async settled(): Promise<void> {
    while (this.#writing.size > 0) await Promise.all(this.#writing.values());
  }

  #path(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /** Runs `work` once the record's earlier writes have ended (each in its turn, failed or not). */
  #write(id: string, work: () => Promise<void>): Promise<void> {
    const done = (this.#writing.get(id) ?? Promise.resolve()).then(work);
    const ended = done.then(
      () => undefined,
      () => undefined,
    );
    this.#writing.set(id, ended);
    void ended.then(() => {
      if (this.#writing.get(id) === ended) this.#writing.delete(id);
    });
    return done;
  }

  /**
   * Removes the oldest finished records beyond `keep` (files and memory); returns them. A record
   * still being written is left for a later prune: its write would hold it again.
   */
  prune(keep: number): RunRecord[] {
    const removed: RunRecord[] = [];
    for (const [id, record] of this.#records) {
      if (this.#records.size <= keep) break;
      if (!FINAL_STATES.has(record.state) || this.#writing.has(id)) continue;
      this.#records.delete(id);
      removed.push(record);
      void this.#write(id, () => unlink(this.#path(id)).catch(() => undefined)); // already gone
    }
    return removed;
  }

  get(id: string): RunRecord | undefined {
    return this.#records.get(id);
  }

  /** Newest first. */
  list(limit: number, job?: string): RunRecord[] {
    const ids = [...this.#records.keys()].sort().reverse();
    const out: RunRecord[] = [];
    for (const id of ids) {
      const r = this.#records.get(id) as RunRecord;
      if (job !== undefined && r.job !== job) continue;
      out.push(r);
      if (out.length >= limit) break;
    }
    return out;
  }
}
