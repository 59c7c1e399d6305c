import { constants, userInfo } from "node:os";
import { SecretError } from "../secret/errors.js";
import { phase } from "../timing.js";
import type { FollowEvent } from "./protocol.js";
import { UID_HEADER, USER_HEADER } from "./protocol.js";
import type { RunRecord } from "./records.js";
import { exchange, malformed, type ResponseHead } from "./wire.js";

/**
 * The client side of docs/jobserver-protocol.md, used by `keyhold trigger` and `keyhold runs`.
 * It sends the caller's user name as an unverified claim (the server cannot check it).
 */

export interface ClientOptions {
  socket: string;
  timeoutMs?: number;
}

interface Reply {
  status: number;
  body: unknown;
}

/**
 * The most a JSON reply, or one line of a follow stream (an event: at most one read of a job's
 * output, JSON-escaped), may take in memory: whatever listens on the socket path given is
 * trusted with nothing, the client's memory included.
 */
export const MAX_REPLY_BYTES = 8 * 1024 * 1024;

function identityHeaders(): Record<string, string> {
  try {
    const me = userInfo();
    return { [USER_HEADER]: me.username, [UID_HEADER]: String(me.uid) };
  } catch {
    return {};
  }
}

function unreachable(socket: string, err: NodeJS.ErrnoException): SecretError {
  const code = err.code ?? "error";
  const hint =
    code === "EACCES"
      ? "you are not in the job server's socket group"
      : code === "ENOENT"
        ? "is the job server installed and its socket started? (systemctl status keyhold-jobs.socket)"
        : code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE"
          ? // The socket exists but the service behind it failed to start (systemd closes the
            // connections it accepted for it, and after a few failed starts the socket itself).
            "the job server failed to start: see why with 'journalctl -u keyhold-jobs', then 'systemctl reset-failed keyhold-jobs.socket keyhold-jobs.service' and 'systemctl start keyhold-jobs.socket'"
          : undefined;
  return new SecretError(
    "SERVER_UNREACHABLE",
    `cannot reach the job server at ${socket}: ${code}`,
    hint ? { hint } : {},
  );
}

export function serverError(status: number, body: unknown): SecretError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === "string" ? error.code : `HTTP_${status}`;
  const message = typeof error?.message === "string" ? error.message : `status ${status}`;
  return new SecretError("SERVER_ERROR", `job server: ${message} (${code})`);
}

/** How many job names a JOB_NOT_FOUND hint lists before it says how many more there are. */
const JOBS_LISTED = 20;

/**
 * The error of a refused trigger: JOB_NOT_FOUND names, in its hint, the jobs this server has
 * (GET /v1/jobs), so a mistyped name shows the right one. The listing is best effort.
 */
async function triggerError(options: ClientOptions, status: number, body: unknown): Promise<SecretError> {
  const err = serverError(status, body);
  if ((body as { error?: { code?: unknown } } | undefined)?.error?.code !== "JOB_NOT_FOUND") return err;
  let names: string[];
  try {
    const reply = await callJobServer(options, "GET", "/v1/jobs");
    const jobs = (reply.body as { jobs?: unknown } | undefined)?.jobs;
    if (reply.status !== 200 || !Array.isArray(jobs)) return err;
    // Printed to a terminal: only names a job configuration accepts, never control characters.
    names = jobs
      .map((j) => (j as { name?: unknown }).name)
      .filter((n): n is string => typeof n === "string" && /^[\w.-]{1,64}$/.test(n));
  } catch {
    return err;
  }
  const more = names.length > JOBS_LISTED ? ` and ${names.length - JOBS_LISTED} more` : "";
  const hint =
    names.length === 0
      ? "this job server has no jobs: they are declared in its configuration (docs/jobserver.md)"
      : `jobs on this server: ${names.slice(0, JOBS_LISTED).join(", ")}${more}`;
  return new SecretError(err.code, err.message, { hint });
}

/** Parses a JSON reply's body; text that is not JSON is kept as text (for the error it becomes). */
function parseBody(parts: Buffer[]): unknown {
  const text = Buffer.concat(parts).toString("utf8");
  try {
    return text === "" ? undefined : JSON.parse(text);
  } catch {
    return text;
  }
}

/** Collects a reply's body up to MAX_REPLY_BYTES; `total` throws past it. */
function collector(): { parts: Buffer[]; add(bytes: Buffer): void } {
  const parts: Buffer[] = [];
  let total = 0;
  return {
    parts,
    add(bytes) {
      total += bytes.length;
      if (total > MAX_REPLY_BYTES) throw malformed(`the body is larger than ${MAX_REPLY_BYTES} bytes`);
      parts.push(bytes);
    },
  };
}

/** One JSON request; resolves with the status and parsed body whatever the status. */
export function callJobServer(
  options: ClientOptions,
  method: "GET" | "POST" | "DELETE",
  path: string,
  body?: unknown,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = identityHeaders();
    if (payload) headers["Content-Type"] = "application/json";
    let status = 0;
    const reply = collector();
    exchange(
      options.socket,
      {
        method,
        path,
        headers,
        ...(payload ? { body: payload } : {}),
        timeoutMs: options.timeoutMs ?? 30_000,
      },
      {
        head: (head: ResponseHead) => {
          status = head.status;
        },
        data: reply.add,
        end: () => resolve({ status, body: parseBody(reply.parts) }),
        fail: (err: unknown) => reject(failure(options.socket, err)),
      },
    );
  });
}

/** A coded error as it is; a system error of the connection as SERVER_UNREACHABLE with its hint. */
function failure(socket: string, err: unknown): SecretError {
  return err instanceof SecretError ? err : unreachable(socket, err as NodeJS.ErrnoException);
}

/** Triggers a run without waiting for it; returns the queued record. */
export async function triggerRun(
  options: ClientOptions,
  job: string,
  params: Record<string, string>,
): Promise<RunRecord> {
  const reply = await callJobServer(options, "POST", `/v1/jobs/${encodeURIComponent(job)}/runs`, { params });
  if (reply.status !== 202) throw await triggerError(options, reply.status, reply.body);
  return (reply.body as { run: RunRecord }).run;
}

/**
 * The stream ended before the run did: the server cut it (this client read nothing for too
 * long), or the connection broke. The run goes on; `keyhold trigger` exits with its own code.
 */
function streamCut(run: RunRecord | undefined, reason: string, socket: string): SecretError {
  if (run === undefined)
    return new SecretError(
      "SERVER_UNREACHABLE",
      `the job server closed the stream before the run was accepted: ${reason}`,
    );
  const log = run.log === null ? "" : `; its log: ${run.log}`;
  return new SecretError(
    "STREAM_CUT",
    `the stream of run ${run.id} was cut before the run ended: ${reason}${log}`,
    {
      hint: `the run goes on without this client: keyhold runs; curl --unix-socket ${socket} http://localhost/v1/runs/${run.id}/log`,
    },
  );
}

/**
 * Triggers a run and follows it; `onEvent` sees every event; resolves with the final record.
 * A stream that ends before the `finished` event rejects with STREAM_CUT, naming the run and
 * its log.
 */
export function followRun(
  options: ClientOptions,
  job: string,
  params: Record<string, string>,
  onEvent: (event: FollowEvent) => void,
): Promise<RunRecord> {
  return new Promise((resolve, reject) => {
    let status = 0;
    const refused = collector();
    /** The bytes of the line being read, split at newline bytes so no character is ever cut. */
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let run: RunRecord | undefined;
    let final: RunRecord | undefined;
    let cut: string | undefined;
    const line = (bytes: Buffer) => {
      const text = bytes.toString("utf8");
      if (text.trim() === "") return;
      let event: FollowEvent;
      try {
        event = JSON.parse(text) as FollowEvent;
      } catch {
        throw new SecretError("SERVER_ERROR", "the job server sent a line that is not JSON");
      }
      if ("run" in event) run = event.run as RunRecord;
      if (event.event === "finished") final = event.run as RunRecord;
      if (event.event === "cut") cut = event.reason;
      onEvent(event);
    };
    const stream = (bytes: Buffer) => {
      let at = 0;
      for (let nl = bytes.indexOf(0x0a); nl !== -1; nl = bytes.indexOf(0x0a, at)) {
        pending.push(bytes.subarray(at, nl));
        line(pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending));
        pending = [];
        pendingBytes = 0;
        at = nl + 1;
      }
      if (at < bytes.length) {
        pendingBytes += bytes.length - at;
        if (pendingBytes > MAX_REPLY_BYTES)
          throw new SecretError(
            "SERVER_ERROR",
            `the job server sent a line longer than ${MAX_REPLY_BYTES} bytes`,
          );
        pending.push(bytes.subarray(at));
      }
    };
    // However the stream ends (whole, cut by the server, broken, malformed), the run's last
    // record decides; without it the run goes on and how it ends is not known here.
    const ended = (reason: string | undefined) => {
      phase("finished");
      if (final) resolve(final);
      else reject(streamCut(run, cut ?? reason ?? "the connection closed", options.socket));
    };
    exchange(
      options.socket,
      {
        method: "POST",
        path: `/v1/jobs/${encodeURIComponent(job)}/runs?follow=1`,
        headers: { ...identityHeaders(), "Content-Type": "application/json" },
        body: Buffer.from(JSON.stringify({ params })),
      },
      {
        head: (head: ResponseHead) => {
          phase("response");
          status = head.status;
        },
        data: (bytes: Buffer) => (status === 200 ? stream(bytes) : refused.add(bytes)),
        end: () => {
          if (status !== 200) {
            const body = parseBody(refused.parts);
            void triggerError(options, status, typeof body === "string" ? undefined : body).then(reject);
          } else ended(undefined);
        },
        fail: (err: unknown) => {
          // Until the run is accepted, the error is the whole story: the server was not reached,
          // or answered nonsense. After, the run goes on without this client (STREAM_CUT).
          if (run === undefined) reject(failure(options.socket, err));
          else ended(err instanceof SecretError ? err.message : undefined);
        },
      },
    );
    phase("request");
  });
}

/** Asks the server to remove a finished run's log (the developers cannot; logs/ is the server's). */
export async function deleteRunLog(options: ClientOptions, id: string): Promise<RunRecord> {
  const reply = await callJobServer(options, "DELETE", `/v1/runs/${encodeURIComponent(id)}/log`);
  if (reply.status !== 200) throw serverError(reply.status, reply.body);
  return (reply.body as { run: RunRecord }).run;
}

export async function listRuns(options: ClientOptions, limit = 20): Promise<RunRecord[]> {
  const reply = await callJobServer(options, "GET", `/v1/runs?limit=${limit}`);
  if (reply.status !== 200) throw serverError(reply.status, reply.body);
  return (reply.body as { runs: RunRecord[] }).runs;
}

/** The exit code `keyhold trigger --follow` ends with: the job's own, 128+signal, else 1. */
export function exitCodeOf(run: RunRecord): number {
  if (run.state === "succeeded" || (run.state === "failed" && run.exitCode !== null && run.signal === null)) {
    return run.exitCode ?? 1;
  }
  if (run.signal !== null && run.state === "failed") {
    const number = constants.signals[run.signal as keyof typeof constants.signals];
    return number === undefined ? 1 : 128 + number;
  }
  return 1;
}
