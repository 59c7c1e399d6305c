import type { AuditSink } from "../audit/index.js";
import type { Secret } from "../secret/index.js";
import type { JobServerConfig, JobSpec } from "./config.js";
import { removeRunLog, runLogPath } from "./logs.js";
import { ApiError, type FollowEvent } from "./protocol.js";
import { FINAL_STATES, type RunRecord, type RunRecordStore } from "./records.js";
import { type RunHandle, startRun } from "./runner.js";
import type { ScrubPattern } from "./scrub-forms.js";
import type { FollowStream } from "./streams.js";

/**
 * The life of a run inside the job server (server.ts): the FIFO queue in front of the concurrency
 * limit, starting each run (runner.ts), finishing it (its record, the audit log, its follower),
 * pruning the records beyond `keepRuns` with their logs, and draining the runs when the server
 * stops. The server answers requests; what it asks of a run goes through here.
 */

/** What the scheduler reads from its server; a reload replaces the configuration and credentials. */
export interface SchedulerContext {
  records: RunRecordStore;
  stateDir: string;
  credentialsParent: string | undefined;
  hide: readonly string[];
  audit: AuditSink | undefined;
  config(): JobServerConfig;
  /** The loaded credentials by name. */
  credentials(): ReadonlyMap<string, Secret>;
  /** What every run's output is scrubbed of. */
  patterns(): readonly ScrubPattern[];
  log(line: string): void;
}

export interface Pending {
  record: RunRecord;
  job: JobSpec;
  params: Map<string, string>;
}

interface Active extends Pending {
  handle: RunHandle;
}

export class RunScheduler {
  readonly #ctx: SchedulerContext;
  readonly #queue: Pending[] = [];
  readonly #active = new Map<string, Active>();
  /** The follow stream of each run triggered with ?follow=1 (only its trigger request follows it). */
  readonly #followers = new Map<string, FollowStream>();
  #stopping = false;
  #idle: (() => void) | undefined;

  constructor(ctx: SchedulerContext) {
    this.#ctx = ctx;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  get running(): number {
    return this.#active.size;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Stops starting runs, cancels the queue, lets running jobs finish up to stopGraceSeconds, then kills them. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const pending of this.#queue.splice(0)) {
      this.#finish(pending.record, "cancelled", {
        error: { code: "SHUTTING_DOWN", message: "the server stopped before the run started" },
      });
    }
    if (this.#active.size > 0) {
      const config = this.#ctx.config();
      this.#ctx.log(`stopping: waiting up to ${config.stopGraceSeconds}s for ${this.#active.size} run(s)`);
      const idle = new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
      const grace = setTimeout(() => {
        for (const a of this.#active.values()) a.handle.stop("shutdown");
      }, config.stopGraceSeconds * 1000);
      await idle;
      clearTimeout(grace);
    }
  }

  /** The run's trigger request follows it on `stream`, until the stream's response closes. */
  follow(id: string, stream: FollowStream): void {
    this.#followers.set(id, stream);
  }

  unfollow(id: string, stream: FollowStream): void {
    if (this.#followers.get(id) === stream) this.#followers.delete(id);
  }

  /** Queues a run whose record is saved, and starts what the concurrency limit allows. */
  enqueue(pending: Pending): void {
    this.#queue.push(pending);
    this.pump();
  }

  cancel(record: RunRecord): void {
    if (FINAL_STATES.has(record.state))
      throw new ApiError("RUN_FINISHED", `the run already ended (${record.state})`);
    const queuedAt = this.#queue.findIndex((p) => p.record.id === record.id);
    if (queuedAt !== -1) {
      this.#queue.splice(queuedAt, 1);
      this.#finish(record, "cancelled", {
        error: { code: "CANCELLED", message: "cancelled before it started" },
      });
    } else {
      this.#active.get(record.id)?.handle.stop("cancel");
    }
    this.#ctx.log(`run ${record.id} cancel requested`);
  }

  /** The logs of records pruned beyond `keepRuns` go with them, off the event loop. */
  prune(): void {
    for (const record of this.#ctx.records.prune(this.#ctx.config().keepRuns)) {
      if (record.log === null) continue;
      removeRunLog(record.log).catch((err: unknown) =>
        this.#ctx.log(`run ${record.id}: its log could not be removed: ${(err as Error).message}`),
      );
    }
  }

  pump(): void {
    while (!this.#stopping && this.#active.size < this.#ctx.config().concurrency && this.#queue.length > 0) {
      const next = this.#queue.shift() as Pending;
      this.#begin(next);
    }
  }

  #emit(id: string, event: FollowEvent): void {
    this.#followers.get(id)?.send(event);
  }

  #begin(pending: Pending): void {
    const { record, job, params } = pending;
    const loaded = this.#ctx.credentials();
    const missing = job.credentials.filter((c) => !loaded.has(c));
    if (missing.length > 0) {
      this.#finish(record, "error", {
        error: { code: "CREDENTIAL_UNAVAILABLE", message: `credential not loaded: ${missing.join(", ")}` },
      });
      return;
    }
    const credentials = new Map(job.credentials.map((c) => [c, loaded.get(c) as Secret]));
    // Not persisted here: if the server dies now, the saved "queued" record becomes
    // "interrupted" at the next start all the same, and runs per second matter.
    record.state = "running";
    record.startedAt = new Date().toISOString();
    const config = this.#ctx.config();
    const handle = startRun({
      job,
      record,
      params,
      credentials,
      patterns: this.#ctx.patterns(),
      environment: config.environment,
      killGraceSeconds: config.killGraceSeconds,
      credentialsParent: this.#ctx.credentialsParent,
      stateDir: this.#ctx.stateDir,
      hide: this.#ctx.hide,
      onStart: () => {
        // Where the log is, from the start: a follower cut short can still point to it.
        record.log = runLogPath(job.outputDir, record.id);
        this.#emit(record.id, { event: "started", run: record });
      },
      onOutput: (stream, data) => this.#emit(record.id, { event: "output", stream, data }),
    });
    this.#active.set(record.id, { ...pending, handle });
    handle.done
      .then((outcome) => {
        record.revision = outcome.revision;
        record.log = outcome.log;
        record.exitCode = outcome.exitCode;
        record.signal = outcome.signal;
        if (outcome.error) this.#finish(record, "error", { error: outcome.error });
        else if (outcome.stoppedBy === "timeout") {
          this.#finish(record, "timed_out", {
            error: { code: "TIMEOUT", message: `ran longer than ${job.timeoutSeconds}s` },
          });
        } else if (outcome.stoppedBy === "cancel") {
          this.#finish(record, "cancelled", {
            error: { code: "CANCELLED", message: "cancelled while running" },
          });
        } else if (outcome.stoppedBy === "shutdown") {
          this.#finish(record, "cancelled", {
            error: { code: "SHUTTING_DOWN", message: "killed when the server stopped" },
          });
        } else this.#finish(record, outcome.exitCode === 0 ? "succeeded" : "failed", {});
      })
      .catch((err: unknown) => {
        this.#ctx.log(
          `run ${record.id} failed inside the server: ${err instanceof Error ? err.message : "unknown"}`,
        );
        this.#finish(record, "error", {
          error: { code: "SPAWN_FAILED", message: "the run could not be carried out" },
        });
      })
      .finally(() => {
        this.#active.delete(record.id);
        if (this.#stopping && this.#active.size === 0) this.#idle?.();
        this.pump();
      });
  }

  #finish(record: RunRecord, state: RunRecord["state"], extra: Pick<Partial<RunRecord>, "error">): void {
    record.state = state;
    record.endedAt = new Date().toISOString();
    if (extra.error !== undefined) record.error = extra.error;
    this.#ctx.records.save(record);
    this.prune();
    const exit = record.signal ? `signal=${record.signal}` : `exit=${record.exitCode ?? "-"}`;
    this.#ctx.log(
      `run ${record.id} job=${record.job} ${state} ${exit}${record.error ? ` [${record.error.code}]` : ""}`,
    );
    const detail: Record<string, string | number | boolean> = {
      run: record.id,
      state,
      claimedUser: record.requester.user ?? "",
    };
    if (record.exitCode !== null) detail.exitCode = record.exitCode;
    if (record.signal !== null) detail.signal = record.signal;
    if (record.revision !== null) detail.revision = record.revision;
    this.#ctx.audit
      ?.append({
        op: "job.run",
        name: record.job,
        result: state === "succeeded" ? "ok" : "error",
        ...(record.error ? { code: record.error.code } : {}),
        detail,
      })
      .catch((err: unknown) =>
        this.#ctx.log(`audit append failed: ${err instanceof Error ? err.message : "unknown"}`),
      );
    this.#followers.get(record.id)?.finish({ event: "finished", run: record });
    this.#followers.delete(record.id);
  }
}
