import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { makeCanary } from "../support/scratch.js";
import { call, type TestServer, startServer, waitFor } from "./support.js";

/**
 * Connection slots (docs/jobserver-protocol.md, "Connections"): anyone in the socket group can
 * open connections; none of them may lock the others out.
 */

const MAX = 8;

/** Opens a connection and sends nothing; `closed` settles when the server closes it. */
async function silent(path: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect(path);
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("close", () => reject(new Error("closed before it connected")));
  });
  return { socket, closed };
}

/** A follow stream of a run that waits in the queue: its connection is being answered. */
function following(path: string, job: string): Promise<{ socket: Socket; id: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let text = "";
    socket.on("error", reject);
    socket.on("data", (c: Buffer) => {
      text += c.toString("utf8");
      const id = /"event":"accepted","run":\{"id":"([^"]+)"/.exec(text)?.[1];
      if (id) resolve({ socket, id });
    });
    socket.once("connect", () =>
      socket.write(`POST /v1/jobs/${job}/runs?follow=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`),
    );
  });
}

describe("connection slots", () => {
  const canary = makeCanary("slots");
  let s: TestServer;

  before(async () => {
    s = await startServer({
      credentials: { api_key: canary },
      config: ({ root, outputs }) => ({
        concurrency: 1,
        http: { headersTimeoutMs: 1000, requestTimeoutMs: 5000, maxConnections: MAX },
        jobs: {
          noop: { argv: ["/bin/true"], cwd: root, outputDir: outputs },
          long: {
            argv: ["/bin/sh", "-c", 'cat "$CREDENTIALS_DIRECTORY/api_key" >/dev/null; sleep 60'],
            cwd: root,
            credentials: ["api_key"],
            outputDir: outputs,
          },
        },
      }),
    });
  });
  after(async () => {
    await s.cleanup();
  });

  test("more silent connections than there are slots: health still answers, and the silent ones are closed after the first-request deadline", async () => {
    const flood: { socket: Socket; closed: Promise<void> }[] = [];
    for (let i = 0; i < MAX + 12; i++) flood.push(await silent(s.socket));
    const health = await call(s.socket, "GET", "/v1/health");
    assert.equal(health.status, 200, "the health check got a slot");
    const trigger = await call(s.socket, "POST", "/v1/jobs/noop/runs", "");
    assert.equal(trigger.status, 202, "so does a trigger");
    // Each is closed: the oldest to make room, the rest when their deadline passes. Nothing is
    // sent on them, ever.
    await waitFor(
      "every silent connection to be closed",
      async () => {
        const states = await Promise.all(
          flood.map(({ closed }) =>
            Promise.race([closed.then(() => true), new Promise((r) => setImmediate(() => r(false)))]),
          ),
        );
        return states.every(Boolean) ? true : undefined;
      },
      20_000,
    );
    assert.equal((await call(s.socket, "GET", "/v1/health")).status, 200);
    assert.doesNotMatch(s.stderr(), new RegExp(canary));
  });

  test("when every slot is answering (follow streams), the reserved slots answer the health check and nothing else", async () => {
    const followers: { socket: Socket; id: string }[] = [];
    for (let i = 0; i < MAX; i++) followers.push(await following(s.socket, "long"));
    try {
      const health = await call(s.socket, "GET", "/v1/health");
      assert.equal(health.status, 200);
      assert.equal((health.json as { queued: number }).queued, MAX - 1);
      const other = await call(s.socket, "GET", "/v1/jobs");
      assert.equal(other.status, 503);
      assert.equal((other.json as { error: { code: string } }).error.code, "SERVER_BUSY");
      assert.equal(other.headers.connection, "close");
    } finally {
      for (const { socket } of followers) socket.destroy();
      for (const { id } of followers) {
        // The server may not have seen the followers go yet: SERVER_BUSY until it has.
        await waitFor("a slot for the cancel", async () => {
          const status = (await call(s.socket, "DELETE", `/v1/runs/${id}`)).status;
          return status === 503 ? undefined : status;
        });
      }
    }
    await waitFor("the runs to end", async () => {
      const h = (await call(s.socket, "GET", "/v1/health")).json as { running: number; queued: number };
      return h.running === 0 && h.queued === 0 ? true : undefined;
    });
    assert.doesNotMatch(s.stderr(), new RegExp(canary));
  });
});
