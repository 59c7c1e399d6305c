import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { JobServer, parseJobServerConfig } from "../../src/jobs/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";

/**
 * Finding of fuzz/targets/jobserver-http.fuzz.mjs: a client that declares a body longer than it
 * sends and half-closes made readBody reject with the request's own "aborted" error (not an
 * ApiError), so the server logged `internal error: aborted` and took the INTERNAL (500) path for
 * an ordinary client hang-up. The server runs in this process, as in the fuzz target, so that its
 * log lines are seen as it writes them.
 */

/** Writes `bytes`, half-closes, and returns what the server answered before closing. */
function exchange(socket: string, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(socket);
    const parts: Buffer[] = [];
    s.on("data", (c: Buffer) => parts.push(c));
    s.on("error", () => undefined);
    s.on("close", () => resolve(Buffer.concat(parts).toString("latin1")));
    s.on("connect", () => s.end(bytes));
  });
}

describe("job server findings of the fuzzer", () => {
  let scratch: Scratch;
  let server: JobServer;
  let socket: string;
  const logged: string[] = [];
  before(async () => {
    scratch = makeScratch("keyhold-fuzz-jobs-");
    for (const d of ["jobs-state", "out", "work"]) mkdirSync(join(scratch.root, d));
    socket = join(scratch.root, "jobs.sock");
    const config = parseJobServerConfig({
      http: { headersTimeoutMs: 200, requestTimeoutMs: 400 },
      jobs: {
        echo: {
          argv: ["/bin/echo", "{word}"],
          cwd: join(scratch.root, "work"),
          outputDir: join(scratch.root, "out"),
          params: { word: { pattern: "[a-z]{1,8}" } },
        },
      },
    });
    server = new JobServer({
      config,
      stateDir: join(scratch.root, "jobs-state"),
      loadCredentials: async () => ({ values: new Map(), missing: new Map() }),
      log: (line) => logged.push(line),
    });
    await server.start({ path: socket });
  });
  after(async () => {
    await server.stop();
    scratch.cleanup();
  });

  it("a client hanging up in the middle of its body is not an internal error", async () => {
    for (const [declared, sent] of [
      [4119, 2048],
      [100, 10],
    ] as const) {
      logged.length = 0;
      const head = `POST /v1/jobs/echo/runs HTTP/1.1\r\nHost: x\r\nContent-Length: ${declared}\r\n\r\n`;
      const reply = await exchange(socket, head + "x".repeat(sent));
      // The request's error and close events have run once the connection is closed; the health
      // check that follows goes through the same event loop after them.
      const health = await exchange(
        socket,
        "GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      assert.match(health, /^HTTP\/1\.1 200 /);
      assert.deepEqual(
        logged.filter((l) => /internal/i.test(l)),
        [],
        `Content-Length ${declared}, ${sent} bytes sent`,
      );
      // Nothing (the socket was gone) or a 400: the HTTP parser's own (its clientError answer,
      // which has no body) or the handler's BAD_REQUEST; never a 500.
      if (reply !== "") {
        assert.match(reply, /^HTTP\/1\.1 400 /);
        assert.doesNotMatch(reply, /"code":"(?!BAD_REQUEST")/);
      }
    }
  });
});
