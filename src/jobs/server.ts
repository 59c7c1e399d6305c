import { mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import type { AuditSink } from "../audit/index.js";
import { VERSION } from "../defaults.js";
import type { Secret } from "../secret/index.js";
import { type JobServerConfig, type JobSpec, resolveParams } from "./config.js";
import { ConnectionSlots } from "./connections.js";
import { type ListenTarget, listenOn } from "./listen.js";
import { openRunLogForReading, removeRunLog } from "./logs.js";
import {
  API_PREFIX,
  ApiError,
  HEALTH_RESERVE,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_BODY_BYTES,
  RUNS_LIMIT_DEFAULT,
  RUNS_LIMIT_MAX,
  UID_HEADER,
  USER_HEADER,
} from "./protocol.js";
import { FINAL_STATES, newRunId, RUN_ID, type Requester, type RunRecord, RunRecordStore } from "./records.js";
import { clearSnapshots } from "./runner.js";
import { RunScheduler } from "./scheduler.js";
import { patternsFor, patternsForSecrets, type ScrubPattern } from "./scrub-forms.js";
import { FollowStream, sendFile } from "./streams.js";

/**
 * The job server (docs/jobserver.md, docs/jobserver-protocol.md): HTTP/1.1 on a Unix socket, a FIFO
 * queue in front of a concurrency limit, run records on disk, follow streams to clients. This file
 * answers the requests and loads the credentials; the queue and the life of each run are
 * scheduler.ts's, binding the socket is listen.ts's.
 */

export interface CredentialSet {
  /** Loaded values by name. */
  values: Map<string, Secret>;
  /** Names that could not be loaded, with the error code (never a value). */
  missing: Map<string, string>;
}

export interface JobServerOptions {
  config: JobServerConfig;
  stateDir: string;
  /** Loads every credential the jobs need (at start and on reload). */
  loadCredentials(names: readonly string[]): Promise<CredentialSet>;
  /** Where per-run credential directories go; default chosen by the load library. */
  credentialsParent?: string;
  /**
   * The server's private paths besides its state directory and the per-run parent (its
   * $CREDENTIALS_DIRECTORY, /run/credentials, its runtime directory, an audit log kept elsewhere):
   * no job sees them (src/jobs/sandbox.ts).
   */
  hide?: readonly string[];
  /** Values the server holds besides the jobs' credentials (its audit key): scrubbed from all output too. */
  serverSecrets?: ReadonlyMap<string, Buffer>;
  /** Where the server records runs and refusals; the CLI passes the real AuditLog. */
  audit?: AuditSink;
  /** One-line log messages (stderr / the journal). Never receives a value. */
  log?(line: string): void;
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: ApiError, headers: Record<string, string> = {}): void {
  send(res, err.status, { error: { code: err.code, message: err.message } }, headers);
}

function requesterOf(req: IncomingMessage): Requester {
  const user = req.headers[USER_HEADER];
  const uid = req.headers[UID_HEADER];
  const cleanUser = typeof user === "string" && /^[A-Za-z0-9._@-]{1,64}$/.test(user) ? user : null;
  const cleanUid = typeof uid === "string" && /^[0-9]{1,10}$/.test(uid) ? Number(uid) : null;
  return { user: cleanUser, uid: cleanUid, verified: false };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
      reject(new ApiError("BODY_TOO_LARGE", `request body is larger than ${MAX_BODY_BYTES} bytes`));
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        req.pause();
        reject(new ApiError("BODY_TOO_LARGE", `request body is larger than ${MAX_BODY_BYTES} bytes`));
        return;
      }
      parts.push(chunk);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(parts));
    });
    // A client that hangs up in the middle of its body: settle instead of waiting forever. Node
    // reports it as the request's "aborted" error (ECONNRESET) before "close"; either way it is
    // the client's doing, never an internal error.
    const hungUp = () => {
      if (failed) return;
      failed = true;
      reject(new ApiError("BAD_REQUEST", "the client went away before its request was complete"));
    };
    req.on("error", hungUp);
    req.on("close", () => {
      if (!req.complete) hungUp();
    });
  });
}

function parseRunRequest(body: Buffer): Record<string, unknown> {
  if (body.length === 0 || body.toString("utf8").trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new ApiError("BAD_JSON", "request body is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ApiError("BAD_JSON", "request body must be a JSON object");
  }
  for (const key of Object.keys(parsed)) {
    if (key !== "params")
      throw new ApiError("BAD_JSON", `unknown key in request body: ${JSON.stringify(key.slice(0, 64))}`);
  }
  const params = (parsed as { params?: unknown }).params;
  if (params === undefined) return {};
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    throw new ApiError("BAD_JSON", "params must be a JSON object of strings");
  }
  return params as Record<string, unknown>;
}

export class JobServer {
  #config: JobServerConfig;
  readonly #options: JobServerOptions;
  readonly #records: RunRecordStore;
  #credentials: CredentialSet = { values: new Map(), missing: new Map() };
  #patterns: ScrubPattern[] = [];
  readonly #retired: { name: string; secret: Secret }[] = [];
  readonly #runs: RunScheduler;
  readonly #spoolDir: string;
  #server: Server | undefined;
  #slots: ConnectionSlots | undefined;

  constructor(options: JobServerOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#records = new RunRecordStore(options.stateDir);
    this.#spoolDir = join(options.stateDir, "spool");
    this.#runs = new RunScheduler({
      records: this.#records,
      stateDir: options.stateDir,
      credentialsParent: options.credentialsParent,
      hide: options.hide ?? [],
      audit: options.audit,
      config: () => this.#config,
      credentials: () => this.#credentials.values,
      patterns: () => this.#patterns,
      log: (line) => this.#log(line),
    });
  }

  get config(): JobServerConfig {
    return this.#config;
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }

  #credentialNames(config: JobServerConfig): string[] {
    const names = new Set<string>();
    for (const job of config.jobs.values()) for (const c of job.credentials) names.add(c);
    return [...names].sort();
  }

  async #loadCredentials(config: JobServerConfig): Promise<void> {
    const loaded = await this.#options.loadCredentials(this.#credentialNames(config));
    // A value replaced by a rotation stays in the scrubber for the life of the server: a job may
    // still print the old one (from a cache, a config file it wrote) and it may still be valid.
    for (const [name, old] of this.#credentials.values) {
      const next = loaded.values.get(name);
      if (next === undefined || !next.verify(old)) this.#retired.push({ name, secret: old });
    }
    this.#credentials = loaded;
    this.#patterns = [
      ...patternsForSecrets(loaded.values),
      ...[...(this.#options.serverSecrets ?? [])].flatMap(([name, bytes]) => patternsFor(name, bytes)),
      ...this.#retired.flatMap(({ name, secret }) => patternsFor(name, secret.exposeBytes())),
    ].sort((a, b) => b.bytes.length - a.bytes.length);
    for (const [name, code] of loaded.missing) this.#log(`credential ${name} unavailable [${code}]`);
    for (const [name, secret] of loaded.values) {
      if (secret.byteLength < 8) {
        this.#log(`credential ${name} is shorter than 8 bytes: scrubbing it will also hide ordinary text`);
      }
    }
  }

  /** Loads records and credentials and starts listening. */
  async start(target: ListenTarget): Promise<void> {
    const { loaded, interrupted } = await this.#records.open();
    clearSnapshots(this.#options.stateDir);
    this.#runs.prune();
    if (interrupted > 0) this.#log(`marked ${interrupted} run(s) interrupted by the previous stop`);
    await this.#loadCredentials(this.#config);
    this.#prepareSpool();
    const http = this.#config.http;
    const server = createServer(
      {
        headersTimeout: http.headersTimeoutMs,
        requestTimeout: http.requestTimeoutMs,
        connectionsCheckingInterval: Math.min(1000, http.headersTimeoutMs),
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      },
      (req, res) => {
        const isHealth = req.method === "GET" && (req.url ?? "").split("?")[0] === `${API_PREFIX}/health`;
        if (!this.#slots?.request(req, res, isHealth)) {
          sendError(
            res,
            new ApiError("SERVER_BUSY", "every connection is busy answering; only /v1/health is served now"),
            { Connection: "close" },
          );
          return;
        }
        this.#handle(req, res).catch((err: unknown) => {
          const api = err instanceof ApiError ? err : new ApiError("INTERNAL", "internal error");
          if (!(err instanceof ApiError))
            this.#log(`internal error: ${err instanceof Error ? err.message : "unknown"}`);
          if (!res.headersSent) {
            const close = api.code === "BODY_TOO_LARGE";
            sendError(res, api, close ? { Connection: "close" } : {});
            if (close) res.on("finish", () => req.socket.destroy());
          } else {
            res.destroy();
          }
        });
      },
    );
    // Not Node's maxConnections, which turns away the health check along with everyone else.
    this.#slots = new ConnectionSlots(server, {
      maxConnections: http.maxConnections,
      reserve: HEALTH_RESERVE,
      firstRequestMs: http.headersTimeoutMs,
    });
    // A client that vanishes mid-request must never take the server down.
    server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
      const status =
        err.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? "408 Request Timeout"
          : err.code === "HPE_HEADER_OVERFLOW"
            ? "431 Request Header Fields Too Large"
            : "400 Bad Request";
      if (socket.writable && err.code !== "ECONNRESET")
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
    this.#server = server;
    await listenOn(server, target);
    this.#log(
      `listening on ${"fd" in target ? `fd ${target.fd}` : target.path}; ${this.#config.jobs.size} job(s), ${loaded} record(s)`,
    );
  }

  /** SIGHUP: re-read the configuration (via `next`) and the credentials. Runs in flight keep theirs. */
  async reload(next?: JobServerConfig): Promise<void> {
    const config = next ?? this.#config;
    await this.#loadCredentials(config);
    this.#config = config;
    this.#log(`reloaded: ${config.jobs.size} job(s), ${this.#credentials.values.size} credential(s)`);
    this.#runs.pump();
  }

  /** Stops taking runs, cancels the queue, lets running jobs finish up to stopGraceSeconds, then kills them. */
  async stop(): Promise<void> {
    if (this.#runs.stopping) return;
    this.#server?.close();
    await this.#runs.stop();
    this.#server?.closeAllConnections();
    this.#log("stopped");
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      throw new ApiError("BAD_REQUEST", "malformed request target");
    }
    const parts = url.pathname.split("/").slice(1);
    if (`/${parts[0]}` !== API_PREFIX) throw new ApiError("NOT_FOUND", "no such endpoint");
    const [, resource, key, sub, extra] = parts;
    const method = req.method ?? "GET";
    const allow = (methods: string[]) => {
      if (!methods.includes(method)) {
        const e = new ApiError("METHOD_NOT_ALLOWED", `${method} is not allowed here`);
        sendError(res, e, { Allow: methods.join(", ") });
        return false;
      }
      return true;
    };
    if (resource === "health" && key === undefined) {
      if (allow(["GET"])) {
        send(res, 200, {
          status: this.#runs.stopping ? "stopping" : "ok",
          version: VERSION,
          running: this.#runs.running,
          queued: this.#runs.queued,
          concurrency: this.#config.concurrency,
          jobs: this.#config.jobs.size,
        });
      }
      return;
    }
    if (resource === "jobs" && key === undefined) {
      if (allow(["GET"])) send(res, 200, { jobs: [...this.#config.jobs.values()].map(describeJob) });
      return;
    }
    if (resource === "jobs" && key !== undefined && sub === "runs" && extra === undefined) {
      if (allow(["POST"])) await this.#trigger(req, res, decodeSegment(key), url.searchParams.get("follow"));
      return;
    }
    if (resource === "runs" && key === undefined) {
      if (allow(["GET"])) this.#listRuns(res, url.searchParams);
      return;
    }
    if (resource === "runs" && key !== undefined && sub === undefined) {
      if (!allow(["GET", "DELETE"])) return;
      const record = this.#findRun(decodeSegment(key));
      if (method === "GET") send(res, 200, { run: record });
      else {
        await this.#runs.cancel(record);
        send(res, 202, { run: record });
      }
      return;
    }
    if (resource === "runs" && key !== undefined && sub === "log" && extra === undefined) {
      if (!allow(["GET", "DELETE"])) return;
      const record = this.#findRun(decodeSegment(key));
      if (method === "GET") await this.#sendLog(res, record);
      else await this.#deleteLog(req, res, record);
      return;
    }
    throw new ApiError("NOT_FOUND", "no such endpoint");
  }

  #findRun(id: string): RunRecord {
    const record = RUN_ID.test(id) ? this.#records.get(id) : undefined;
    if (!record) throw new ApiError("RUN_NOT_FOUND", "no run with that id");
    return record;
  }

  #listRuns(res: ServerResponse, query: URLSearchParams): void {
    let limit = RUNS_LIMIT_DEFAULT;
    const rawLimit = query.get("limit");
    if (rawLimit !== null) {
      if (!/^[0-9]{1,4}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > RUNS_LIMIT_MAX) {
        throw new ApiError("BAD_REQUEST", `limit must be an integer from 1 to ${RUNS_LIMIT_MAX}`);
      }
      limit = Number(rawLimit);
    }
    const job = query.get("job") ?? undefined;
    send(res, 200, { runs: this.#records.list(limit, job) });
  }

  async #sendLog(res: ServerResponse, record: RunRecord): Promise<void> {
    // Opened off the event loop, through the server's own logs/ directory, as a regular file of
    // its own (logs.ts), then streamed from that descriptor at the client's pace.
    const log = record.log === null ? undefined : await openRunLogForReading(record.log);
    if (log === undefined) throw new ApiError("LOG_NOT_FOUND", "the run has no log");
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": log.size });
    await sendFile(res, log.fd, log.size, this.#config.http.requestTimeoutMs);
  }

  /**
   * `DELETE /v1/runs/ID/log`: the developers who read the logs cannot delete them (`logs/` is the
   * server's alone, logs.ts), so they ask; the record stays and says the log is gone.
   */
  async #deleteLog(req: IncomingMessage, res: ServerResponse, record: RunRecord): Promise<void> {
    if (!FINAL_STATES.has(record.state))
      throw new ApiError("RUN_ACTIVE", `the run is still ${record.state}; cancel it or wait for it to end`);
    const path = record.log;
    if (path === null || !(await removeRunLog(path)))
      throw new ApiError("LOG_NOT_FOUND", "the run has no log");
    await this.#records.save(record, { log: null });
    const who = requesterOf(req);
    this.#log(
      `run ${record.id} log removed at the request of ${who.user ?? "-"} (uid ${who.uid ?? "-"}, unverified)`,
    );
    send(res, 200, { run: record });
  }

  async #trigger(
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    follow: string | null,
  ): Promise<void> {
    // Until its body is whole, the connection may lose its slot like a silent one.
    const received = this.#slots?.receiving(req);
    let body: Buffer;
    try {
      body = await readBody(req);
    } finally {
      received?.();
    }
    if (this.#runs.stopping) throw new ApiError("SHUTTING_DOWN", "the server is stopping");
    const job = this.#config.jobs.get(name);
    if (!job) throw new ApiError("JOB_NOT_FOUND", `no job named ${JSON.stringify(name.slice(0, 64))}`);
    const params = resolveParams(job, parseRunRequest(body));
    if (!(params instanceof Map)) throw new ApiError(params.code, params.message);
    if (this.#runs.full) throw new ApiError("QUEUE_FULL", `${this.#runs.queued} runs are already waiting`);
    const record: RunRecord = {
      id: newRunId(),
      job: job.name,
      state: "queued",
      requester: requesterOf(req),
      params: Object.fromEntries(params),
      queuedAt: new Date().toISOString(),
      startedAt: null,
      endedAt: null,
      exitCode: null,
      signal: null,
      revision: null,
      error: null,
      log: null,
    };
    // Queued at once, so that the limits count it; started, shown and told to the client only once
    // its record is on disk. A save that fails is an INTERNAL error, and the run is withdrawn.
    // Nothing reaches a follower before `accepted`: the run cannot start before the save ends, and
    // its end is reported after a later save of the same record (scheduler.ts), which ends after it.
    const saved = this.#records.save(record);
    this.#runs.enqueue({ record, job, params }, saved);
    await saved;
    const following = follow === "1" || follow === "true";
    // A client that left while the record was saved gets no stream: its response has closed
    // already, and a stream made now would never hear of it.
    if (following && !res.destroyed) {
      res.writeHead(200, { "Content-Type": "application/x-ndjson", "Cache-Control": "no-store" });
      const stream = new FollowStream(res, {
        spoolDir: this.#spoolDir,
        name: record.id,
        stallMs: this.#config.http.requestTimeoutMs,
        cutEvent: (reason) => {
          this.#log(`run ${record.id}: follow stream cut: ${reason}`);
          return { event: "cut", reason, run: record };
        },
      });
      this.#runs.follow(record.id, stream);
      res.on("close", () => this.#runs.unfollow(record.id, stream));
      stream.send({ event: "accepted", run: record });
    }
    if (!following) send(res, 202, { run: record }, { Location: `${API_PREFIX}/runs/${record.id}` });
  }

  /** Spool files are unlinked as soon as they are made: only a crash in between leaves one. */
  #prepareSpool(): void {
    mkdirSync(this.#spoolDir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(this.#spoolDir)) {
      if (!name.endsWith(".spool")) continue;
      try {
        unlinkSync(join(this.#spoolDir, name));
      } catch {
        // gone already
      }
    }
  }
}

function describeJob(job: JobSpec): unknown {
  return {
    name: job.name,
    params: Object.fromEntries(
      [...job.params.values()].map((p) => [p.name, { pattern: p.source, default: p.default ?? null }]),
    ),
    credentials: job.credentials,
    timeoutSeconds: job.timeoutSeconds,
    codePolicy: job.codePolicy,
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError("BAD_REQUEST", "malformed path segment");
  }
}
