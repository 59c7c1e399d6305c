/**
 * Writes test/vectors/jobserver/: one raw HTTP request per file, each testing exactly one answer
 * of docs/jobserver-protocol.md. Run after a build: `node dist/test/jobs/generate-vectors.js`.
 *
 * File format: `key: value` header lines (`name`, `expect` = HTTP status and, for JSON errors, the
 * error code; `encoding` = text or base64), a blank line, then the request. In text vectors each
 * line ends with CRLF on the wire (the file holds LF); base64 vectors are sent as decoded bytes.
 * The server the vectors run against declares the jobs `noop` (no parameters) and `echo`
 * (parameter `word`, pattern `[a-z]+`, required).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "./support.js";

interface Vector {
  name: string;
  expect: string;
  request: string;
  base64?: boolean;
}

function post(path: string, body: string): string {
  return `POST ${path} HTTP/1.1\nHost: localhost\nContent-Type: application/json\nContent-Length: ${Buffer.byteLength(body)}\nConnection: close\n\n${body}`;
}

function get(path: string, method = "GET"): string {
  return `${method} ${path} HTTP/1.1\nHost: localhost\nConnection: close\n\n`;
}

const vectors: Vector[] = [
  { name: "health", expect: "200", request: get("/v1/health") },
  { name: "jobs", expect: "200", request: get("/v1/jobs") },
  { name: "runs-list", expect: "200", request: get("/v1/runs?limit=5") },
  { name: "trigger-empty-body", expect: "202", request: post("/v1/jobs/noop/runs", "") },
  {
    name: "trigger-with-param",
    expect: "202",
    request: post("/v1/jobs/echo/runs", '{"params":{"word":"abc"}}'),
  },
  { name: "body-not-json", expect: "400 BAD_JSON", request: post("/v1/jobs/noop/runs", "{params: }") },
  { name: "body-array", expect: "400 BAD_JSON", request: post("/v1/jobs/noop/runs", "[]") },
  {
    name: "body-extra-key",
    expect: "400 BAD_JSON",
    request: post("/v1/jobs/noop/runs", '{"params":{},"argv":["/bin/sh"]}'),
  },
  {
    name: "params-not-object",
    expect: "400 BAD_JSON",
    request: post("/v1/jobs/echo/runs", '{"params":"word=abc"}'),
  },
  {
    name: "param-unknown",
    expect: "400 PARAM_UNKNOWN",
    request: post("/v1/jobs/noop/runs", '{"params":{"x":"1"}}'),
  },
  {
    name: "param-pattern",
    expect: "400 PARAM_INVALID",
    request: post("/v1/jobs/echo/runs", '{"params":{"word":"abc; rm -rf /"}}'),
  },
  {
    name: "param-not-string",
    expect: "400 PARAM_INVALID",
    request: post("/v1/jobs/echo/runs", '{"params":{"word":["abc"]}}'),
  },
  {
    name: "param-too-long",
    expect: "400 PARAM_INVALID",
    request: post("/v1/jobs/echo/runs", `{"params":{"word":"${"a".repeat(4097)}"}}`),
  },
  {
    name: "param-missing",
    expect: "400 PARAM_MISSING",
    request: post("/v1/jobs/echo/runs", '{"params":{}}'),
  },
  { name: "job-not-found", expect: "404 JOB_NOT_FOUND", request: post("/v1/jobs/nosuch/runs", "") },
  { name: "run-not-found", expect: "404 RUN_NOT_FOUND", request: get("/v1/runs/0000000000-00000000") },
  { name: "run-id-malformed", expect: "404 RUN_NOT_FOUND", request: get("/v1/runs/..%2F..%2Fetc%2Fpasswd") },
  {
    name: "cancel-not-found",
    expect: "404 RUN_NOT_FOUND",
    request: get("/v1/runs/0000000000-00000000", "DELETE"),
  },
  {
    name: "log-of-unknown-run",
    expect: "404 RUN_NOT_FOUND",
    request: get("/v1/runs/0000000000-00000000/log"),
  },
  { name: "unknown-endpoint", expect: "404 NOT_FOUND", request: get("/v1/secrets") },
  { name: "unknown-version", expect: "404 NOT_FOUND", request: get("/v2/health") },
  { name: "method-not-allowed", expect: "405 METHOD_NOT_ALLOWED", request: get("/v1/jobs/noop/runs", "PUT") },
  { name: "limit-zero", expect: "400 BAD_REQUEST", request: get("/v1/runs?limit=0") },
  { name: "limit-not-a-number", expect: "400 BAD_REQUEST", request: get("/v1/runs?limit=ten") },
  { name: "bad-percent-encoding", expect: "400 BAD_REQUEST", request: get("/v1/runs/%E0%A4%A") },
  {
    name: "body-declared-too-large",
    expect: "413 BODY_TOO_LARGE",
    request: `POST /v1/jobs/noop/runs HTTP/1.1\nHost: localhost\nContent-Length: 1048577\n\n{`,
  },
  { name: "http-version-bogus", expect: "400", request: "GET /v1/health HTTP/7.1\nHost: localhost\n\n" },
  {
    name: "header-too-large",
    expect: "431",
    request: `GET /v1/health HTTP/1.1\nHost: localhost\nX-Pad: ${"p".repeat(20_000)}\n\n`,
  },
  {
    name: "garbage-bytes",
    expect: "400",
    base64: true,
    request: Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a]).toString("base64"),
  },
];

const dir = join(PROJECT_ROOT, "test/vectors/jobserver");
mkdirSync(dir, { recursive: true });
for (const f of readdirSync(dir)) if (f.endsWith(".txt")) rmSync(join(dir, f));
vectors.forEach((v, i) => {
  const header = [`name: ${v.name}`, `expect: ${v.expect}`, `encoding: ${v.base64 ? "base64" : "text"}`];
  const file = join(dir, `${String(i + 1).padStart(2, "0")}-${v.name}.txt`);
  writeFileSync(file, `${header.join("\n")}\n\n${v.request}${v.base64 ? "\n" : ""}`);
});
console.log(`wrote ${vectors.length} vectors to ${dir}`);
