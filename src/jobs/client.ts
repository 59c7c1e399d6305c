import { request } from "node:http";
import { createConnection } from "node:net";
import { constants, userInfo } from "node:os";
import { SecretError } from "../secret/errors.js";
import { phase } from "../timing.js";
import type { FollowEvent } from "./protocol.js";
import { UID_HEADER, USER_HEADER } from "./protocol.js";
import type { RunRecord } from "./records.js";

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
 * How every request reaches the socket: a connection of its own, made here, with no Agent. An
 * Agent (Node's default, and with `socketPath`) works out a TLS server name for each request by
 * testing the Host against Node's IPv6 pattern, and compiling that regular expression costs more
 * than the rest of the request (20 ms and up at every start of the CLI). Without an Agent the
 * request says `Connection: close`, which is what a one-request client wants anyway.
 */
function viaSocket(socket: string): { createConnection: () => ReturnType<typeof createConnection> } {
  return { createConnection: () => createConnection(socket) };
}

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

/** One JSON request; resolves with the status and parsed body whatever the status. */
export function callJobServer(
  options: ClientOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      {
        ...viaSocket(options.socket),
        method,
        path,
        headers: {
          ...identityHeaders(),
          ...(payload ? { "Content-Type": "application/json", "Content-Length": payload.length } : {}),
        },
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () => {
          const text = Buffer.concat(parts).toString("utf8");
          let parsed: unknown;
          try {
            parsed = text === "" ? undefined : JSON.parse(text);
          } catch {
            parsed = text;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () =>
      req.destroy(
        new SecretError("SERVER_UNREACHABLE", `the job server at ${options.socket} did not answer in time`),
      ),
    );
    req.on("error", (err: NodeJS.ErrnoException) =>
      reject(err instanceof SecretError ? err : unreachable(options.socket, err)),
    );
    req.end(payload);
  });
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
    const payload = Buffer.from(JSON.stringify({ params }));
    const req = request(
      {
        ...viaSocket(options.socket),
        method: "POST",
        path: `/v1/jobs/${encodeURIComponent(job)}/runs?follow=1`,
        headers: {
          ...identityHeaders(),
          "Content-Type": "application/json",
          "Content-Length": payload.length,
        },
      },
      (res) => {
        phase("response");
        if (res.statusCode !== 200) {
          const parts: Buffer[] = [];
          res.on("data", (c: Buffer) => parts.push(c));
          res.on("end", () => {
            let body: unknown;
            try {
              body = JSON.parse(Buffer.concat(parts).toString("utf8"));
            } catch {
              body = undefined;
            }
            void triggerError(options, res.statusCode ?? 0, body).then(reject);
          });
          return;
        }
        let pending = "";
        let run: RunRecord | undefined;
        let final: RunRecord | undefined;
        let cut: string | undefined;
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          pending += chunk;
          let nl = pending.indexOf("\n");
          while (nl !== -1) {
            const line = pending.slice(0, nl);
            pending = pending.slice(nl + 1);
            nl = pending.indexOf("\n");
            if (line.trim() === "") continue;
            let event: FollowEvent;
            try {
              event = JSON.parse(line) as FollowEvent;
            } catch {
              cut ??= "the server sent a line that is not JSON";
              res.destroy();
              return;
            }
            if ("run" in event) run = event.run as RunRecord;
            if (event.event === "finished") final = event.run as RunRecord;
            if (event.event === "cut") cut = event.reason;
            onEvent(event);
          }
        });
        // "close" comes however the stream ended: whole, cut by the server, or broken.
        res.on("error", () => undefined);
        res.on("close", () => {
          phase("finished");
          if (final) resolve(final);
          else reject(streamCut(run, cut ?? "the connection closed", options.socket));
        });
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) => reject(unreachable(options.socket, err)));
    req.end(payload);
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
