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
 *
 * Records are written off the event loop (records.ts); what depends on one being on disk waits
 * for it: a run starts only once its record says it is queued, and is reported finished (to its
 * follower, then the audit log) only once its record says how it ended.
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

interface Queued extends Pending {
  /** Whether its record, as queued, is on disk: until then it holds its place but cannot start. */
  saved: boolean;
}

interface Active extends Pending {
  handle: RunHandle;
}

/** How a run ended, besides its state: what #finish writes into its record. */
type RunEnd = Partial<Pick<RunRecord, "error" | "revision" | "log" | "exitCode" | "signal">>;

export class RunScheduler {
  readonly #ctx: SchedulerContext;
  readonly #queue: Queued[] = [];
  readonly #active = new Map<string, Active>();
  /** The follow stream of each run triggered with ?follow=1 (only its trigger request follows it). */
  readonly #followers = new Map<string, FollowStream>();
  #stopping = false;
  #idle: (() => void) | undefined;
  /** Runs ended whose record, follower and audit record are still being seen to (#finish). */
  readonly #reporting = new Set<Promise<void>>();

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

  /**
   * Whether another run would overflow the queue: `queueLimit` runs already wait beyond the free
   * slots. (A run whose record is not on disk yet waits in the queue even while a slot is free.)
   */
  get full(): boolean {
    const config = this.#ctx.config();
    return this.#queue.length >= config.queueLimit + Math.max(0, config.concurrency - this.#active.size);
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
    while (this.#reporting.size > 0) await Promise.all(this.#reporting);
    await this.#ctx.records.settled();
  }

  /** The run's trigger request follows it on `stream`, until the stream's response closes. */
  follow(id: string, stream: FollowStream): void {
    this.#followers.set(id, stream);
  }

  unfollow(id: string, stream: FollowStream): void {
    if (this.#followers.get(id) === stream) this.#followers.delete(id);
  }

  /**
   * Queues a run at once (it counts against the limits and keeps its place), to start in its turn
   * once `saved` (the save of its record as queued) has made the record durable. If that save
   * fails the run is withdrawn, unless it was ended meanwhile.
   */
  enqueue(pending: Pending, saved: Promise<void>): void {
    const queued: Queued = { ...pending, saved: false };
    this.#queue.push(queued);
    saved.then(
      () => {
        queued.saved = true;
        this.pump();
      },
      () => {
        const at = this.#queue.indexOf(queued);
        if (at === -1) return;
        this.#queue.splice(at, 1);
        this.pump();
      },
    );
  }

  /** Cancels a run; resolves when a queued one's record says it is cancelled (a running one's ends later). */
  async cancel(record: RunRecord): Promise<void> {
    if (FINAL_STATES.has(record.state))
      throw new ApiError("RUN_FINISHED", `the run already ended (${record.state})`);
    this.#ctx.log(`run ${record.id} cancel requested`);
    const queuedAt = this.#queue.findIndex((p) => p.record.id === record.id);
    if (queuedAt !== -1) {
      this.#queue.splice(queuedAt, 1);
      await this.#finish(record, "cancelled", {
        error: { code: "CANCELLED", message: "cancelled before it started" },
      });
    } else {
      this.#active.get(record.id)?.handle.stop("cancel");
    }
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
    while (
      !this.#stopping &&
      this.#active.size < this.#ctx.config().concurrency &&
      this.#queue[0]?.saved === true
    ) {
      this.#begin(this.#queue.shift() as Queued);
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
        const result = {
          revision: outcome.revision,
          log: outcome.log,
          exitCode: outcome.exitCode,
          signal: outcome.signal,
        };
        if (outcome.error) this.#finish(record, "error", { ...result, error: outcome.error });
        else if (outcome.stoppedBy === "timeout") {
          this.#finish(record, "timed_out", {
            ...result,
            error: { code: "TIMEOUT", message: `ran longer than ${job.timeoutSeconds}s` },
          });
        } else if (outcome.stoppedBy === "cancel") {
          this.#finish(record, "cancelled", {
            ...result,
            error: { code: "CANCELLED", message: "cancelled while running" },
          });
        } else if (outcome.stoppedBy === "shutdown") {
          this.#finish(record, "cancelled", {
            ...result,
            error: { code: "SHUTTING_DOWN", message: "killed when the server stopped" },
          });
        } else this.#finish(record, outcome.exitCode === 0 ? "succeeded" : "failed", result);
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

  /**
   * Ends the run: its record is written with how it ended, and only once that is on disk does
   * the server show it (get, list) and report it (#report). Should the write fail, the record in
   * memory says how the run ended all the same, and its follower is cut. Resolves once the
   * record in memory says how the run ended; the report goes on (stop waits for it).
   */
  #finish(record: RunRecord, state: RunRecord["state"], how: RunEnd): Promise<void> {
    const end: Partial<RunRecord> = { ...how, state, endedAt: new Date().toISOString() };
    const ended = { ...record, ...end };
    const exit = ended.signal ? `signal=${ended.signal}` : `exit=${ended.exitCode ?? "-"}`;
    this.#ctx.log(
      `run ${record.id} job=${record.job} ${state} ${exit}${ended.error ? ` [${ended.error.code}]` : ""}`,
    );
    const why = (err: unknown) => (err instanceof Error ? err.message : "unknown");
    const recorded = this.#ctx.records.save(record, end).then(
      () => "finished" as const,
      (err: unknown) => {
        this.#ctx.log(`run ${record.id}: its record could not be saved: ${why(err)}`);
        Object.assign(record, end);
        return "unsaved" as const;
      },
    );
    const reported = recorded
      .then((saved) => {
        this.prune();
        return this.#report(record, saved);
      })
      .catch((err: unknown) => this.#ctx.log(`run ${record.id}: its end could not be reported: ${why(err)}`));
    this.#reporting.add(reported);
    void reported.finally(() => this.#reporting.delete(reported));
    return recorded.then(() => undefined);
  }

  /**
   * Appends the run's end to the audit log and tells its follower (a `cut` instead of `finished`
   * when its record could not be saved: the end the client would be told is not on disk).
   */
  async #report(record: RunRecord, saved: "finished" | "unsaved"): Promise<void> {
    const audited = this.#audit(record);
    const follower = this.#followers.get(record.id);
    this.#followers.delete(record.id);
    if (saved === "finished") follower?.finish({ event: "finished", run: record });
    else follower?.cut("the server could not record how the run ended");
    await audited;
  }

  async #audit(record: RunRecord): Promise<void> {
    const state = record.state;
    const detail: Record<string, string | number | boolean> = {
      run: record.id,
      state,
      claimedUser: record.requester.user ?? "",
    };
    if (record.exitCode !== null) detail.exitCode = record.exitCode;
    if (record.signal !== null) detail.signal = record.signal;
    if (record.revision !== null) detail.revision = record.revision;
    await this.#ctx.audit
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
  }
}
