// The job server's HTTP handling (src/jobs/server.ts routing, parameters and bodies, config.ts
// resolveParams): a real JobServer in this process on a Unix socket in a scratch directory,
// sent whatever a local client could send. Every job needs a credential that is not loaded, so
// an accepted run ends at once without starting a process.
// Invariants: every request gets an answer; no answer is a 500 (an uncaught error in a handler);
// an error body carries a code from the protocol's closed list with that code's status; the
// server still answers /v1/health afterwards.
import { mkdirSync } from "node:fs";
import { connect, Server } from "node:net";
import { join } from "node:path";
import { FuzzedDataProvider } from "@jazzer.js/core";
import { API_ERRORS, JobServer, parseJobServerConfig } from "../../dist/src/jobs/index.js";
import { check, scratchDir } from "../support.mjs";

const dir = scratchDir("jobs");
for (const d of ["state", "out", "work"]) mkdirSync(join(dir, d));
const socket = join(dir, "jobs.sock");
const job = (extra) => ({
  argv: ["/bin/echo"],
  cwd: join(dir, "work"),
  outputDir: join(dir, "out"),
  credentials: ["fuzz_missing"],
  ...extra,
});
const config = parseJobServerConfig({
  keepRuns: 5,
  http: { headersTimeoutMs: 200, requestTimeoutMs: 400 },
  jobs: {
    plain: job({}),
    echo: job({
      argv: ["/bin/echo", "{word}"],
      params: { word: { pattern: "[a-z]{1,8}" }, mode: { pattern: "fast|slow", env: "MODE", default: "fast" } },
    }),
  },
});
const logged = [];
const server = new JobServer({
  config,
  stateDir: join(dir, "state"),
  loadCredentials: async (names) => ({
    values: new Map(),
    missing: new Map(names.map((n) => [n, "CREDENTIAL_NOT_FOUND"])),
  }),
  log: (line) => logged.push(line),
});
// The listening server is unref'd so that the process ends when the fuzzer does (JobServer keeps
// its http.Server to itself: it is caught as it starts listening).
const listen = Server.prototype.listen;
let listening;
Server.prototype.listen = function (...args) {
  listening = this;
  return listen.apply(this, args);
};
await server.start({ path: socket });
Server.prototype.listen = listen;
listening?.unref();

// Statuses the server or Node's HTTP parser may answer with (408 and 431 come from the parser).
const STATUSES = new Set([...Object.values(API_ERRORS), 200, 202, 400, 408, 431]);
STATUSES.delete(500);

function exchange(bytes) {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    const parts = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error("the server did not answer within 5 s"));
    }, 5000);
    s.on("data", (c) => parts.push(c));
    s.on("error", () => undefined);
    s.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(parts).toString("latin1"));
    });
    s.on("connect", () => s.end(bytes));
  });
}

function request(p) {
  if (p.consumeBoolean()) return Buffer.from(p.consumeRemainingAsBytes());
  const method = p.pickValue(["GET", "POST", "DELETE", "PUT", "HEAD", p.consumeString(8, "ascii")]);
  const base = p.pickValue(["/v1/jobs/echo/runs", "/v1/jobs/plain/runs", "/v1/runs", "/v1/runs/", "/v1/health", "/v1/jobs/", "/"]);
  const target = base + p.consumeString(p.consumeIntegralInRange(0, 60), "ascii").replace(/[\s]/g, "");
  const headers = [`Host: localhost`, "Connection: close"];
  if (p.consumeBoolean()) headers.push(`X-Keyhold-User: ${p.consumeString(20, "ascii").replace(/[\r\n]/g, "")}`);
  let body;
  if (p.consumeBoolean()) {
    const params = {};
    for (let i = p.consumeIntegralInRange(0, 3); i > 0; i--) {
      params[p.pickValue(["word", "mode", "other", p.consumeString(6, "ascii")])] = p.consumeBoolean()
        ? p.consumeString(p.consumeIntegralInRange(0, 20), "utf-8")
        : p.consumeNumber();
    }
    body = Buffer.from(JSON.stringify(p.consumeBoolean() ? { params } : params));
  } else body = Buffer.from(p.consumeRemainingAsBytes());
  headers.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${method} ${target || "/"} HTTP/1.1\r\n${headers.join("\r\n")}\r\n\r\n`), body]);
}

export async function fuzz(data) {
  logged.length = 0;
  const reply = await exchange(request(new FuzzedDataProvider(data)));
  for (const m of reply.matchAll(/(?:^|\n)HTTP\/1\.1 (\d{3}) [^\r]*\r\n((?:[^\r]+\r\n)*)\r\n(\{"error":\{"code":"([A-Z_]+)")?/g)) {
    const status = Number(m[1]);
    check(STATUSES.has(status), `status ${status}: ${reply.slice(0, 300)}`);
    if (m[4] !== undefined) {
      check(m[4] in API_ERRORS, `error code ${m[4]} is not in the protocol's list`);
      check(API_ERRORS[m[4]] === status, `${m[4]} answered with status ${status}`);
    }
  }
  // A client hanging up (here: mid-body, after its half-close) is never an internal error.
  const internal = logged.filter((l) => l.startsWith("internal error"));
  check(internal.length === 0, `internal error: ${internal.join(" | ")}`);
  const health = await exchange(Buffer.from("GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  check(health.startsWith("HTTP/1.1 200 "), `the server stopped answering: ${health.slice(0, 100)}`);
}
