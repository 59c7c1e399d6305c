import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../durable/index.js";

/**
 * Run records: one JSON file per run under `<stateDir>/runs/`, replaced atomically on every
 * state change (docs/jobserver-protocol.md, "The run record"). A record is never lost to a
 * crash: it is either the previous state or the new one. At start the server marks runs that
 * were queued or running when the last server died as `interrupted`.
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

  constructor(stateDir: string) {
    this.dir = join(stateDir, "runs");
  }

  /** Reads every record; those left queued or running by a dead server become interrupted. */
  open(): { loaded: number; interrupted: number } {
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    let interrupted = 0;
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
      if (!FINAL_STATES.has(record.state)) {
        record.state = "interrupted";
        record.endedAt = new Date().toISOString();
        record.error = {
          code: "INTERRUPTED",
          message: "the server stopped while the run was queued or running",
        };
        this.save(record);
        interrupted++;
      }
      this.#records.set(id, record);
    }
    return { loaded: this.#records.size, interrupted };
  }

  save(record: RunRecord): void {
    this.#records.set(record.id, record);
    // 0644: the people who may trigger jobs may read what happened; records hold no values.
    writeFileAtomic(join(this.dir, `${record.id}.json`), `${JSON.stringify(record)}\n`, { mode: 0o644 });
  }

  /** Removes the oldest finished records beyond `keep` (files and memory); returns them. */
  prune(keep: number): RunRecord[] {
    const removed: RunRecord[] = [];
    for (const [id, record] of this.#records) {
      if (this.#records.size <= keep) break;
      if (!FINAL_STATES.has(record.state)) continue;
      try {
        unlinkSync(join(this.dir, `${id}.json`));
      } catch {
        // already gone
      }
      this.#records.delete(id);
      removed.push(record);
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
