import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { call, cliArgv, finalRun, follow, runCli, startServer, type TestServer, waitFor } from "./support.js";

/** Opens a raw connection, writes `data`, and collects what comes back until the server closes. */
function raw(
  socketPath: string,
  data: Buffer | string,
  options: { keepOpenMs?: number } = {},
): Promise<{ reply: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket: Socket = connect(socketPath);
    let reply = "";
    socket.on("data", (c: Buffer) => {
      reply += c.toString("latin1");
    });
    socket.on("error", () => undefined);
    socket.on("close", () => resolve({ reply, closedAfterMs: Date.now() - started }));
    socket.on("connect", () => socket.write(data));
    if (options.keepOpenMs !== undefined) {
      setTimeout(() => {
        socket.destroy();
      }, options.keepOpenMs).unref();
    }
    setTimeout(() => reject(new Error("the server never closed the connection")), 15_000).unref();
  });
}

async function healthy(s: TestServer): Promise<void> {
  const r = await call(s.socket, "GET", "/v1/health");
  assert.equal(r.status, 200);
}

describe("the job server survives bad clients", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({
      config: ({ root, outputs }) => ({
        concurrency: 1,
        queueLimit: 1,
        http: { headersTimeoutMs: 500, requestTimeoutMs: 1000, maxConnections: 512 },
        jobs: {
          noop: { argv: ["/bin/true"], cwd: root, outputDir: outputs },
          talk: {
            argv: ["/bin/sh", "-c", "for i in 1 2 3 4 5; do echo line $i; sleep 0.1; done"],
            cwd: root,
            outputDir: outputs,
          },
          long: {
            argv: ["/bin/sleep", "{secs}"],
            cwd: root,
            outputDir: outputs,
            params: { secs: { pattern: "[0-9]+" } },
          },
        },
      }),
    });
  });
  after(async () => {
    await s.cleanup();
  });

  test("garbage bytes get 400 and a closed connection", async () => {
    for (const junk of [
      Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10, 13, 10]),
      "NOT HTTP AT ALL\r\n\r\n",
      "GET /v1/health HTTP/9.9\r\n\r\n",
      "GET\r\n\r\n",
    ]) {
      const { reply } = await raw(s.socket, junk);
      assert.match(reply, /^HTTP\/1\.1 400/, JSON.stringify(String(junk)));
    }
    await healthy(s);
  });

  test("bodies over 1 MiB get 413, by Content-Length or while streaming; exactly 1 MiB is read", async () => {
    const declared = await raw(
      s.socket,
      "POST /v1/jobs/noop/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n{",
    );
    assert.match(declared.reply, /^HTTP\/1\.1 413/);
    assert.match(declared.reply, /"code":"BODY_TOO_LARGE"/);
    const chunk = Buffer.alloc(64 * 1024, " ");
    const size = chunk.length.toString(16);
    let body = "POST /v1/jobs/noop/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (let i = 0; i < 18; i++) body += `${size}\r\n${chunk.toString()}\r\n`;
    body += "0\r\n\r\n";
    const streamed = await raw(s.socket, body);
    assert.match(streamed.reply, /^HTTP\/1\.1 413/);
    const exact = `{"params":{}}${" ".repeat(1024 * 1024 - 13)}`;
    const ok = await call(s.socket, "POST", "/v1/jobs/noop/runs", exact, {
      "Content-Type": "application/json",
    });
    assert.equal(ok.status, 202);
    await healthy(s);
  });

  test("slow clients are cut by the header and request timeouts while others are served", async () => {
    const slowHeaders = raw(s.socket, "GET /v1/health HTTP/1.1\r\nHost: x\r\n");
    const slowBody = raw(
      s.socket,
      "POST /v1/jobs/noop/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    );
    await healthy(s);
    const [h, b] = await Promise.all([slowHeaders, slowBody]);
    assert.ok(h.reply === "" || /^HTTP\/1\.1 408/.test(h.reply), h.reply);
    assert.ok(b.reply === "" || /^HTTP\/1\.1 408/.test(b.reply), b.reply);
    await healthy(s);
  });

  test("a flood of connections that send nothing, half a request or garbage leaves the server serving", async () => {
    const floods: Promise<unknown>[] = [];
    for (let i = 0; i < 150; i++) {
      const kind = i % 3;
      floods.push(
        raw(s.socket, kind === 0 ? "" : kind === 1 ? "GET /v1/hea" : "\x16\x03\x01 tls?\r\n\r\n", {
          keepOpenMs: 200,
        }),
      );
    }
    await healthy(s);
    await Promise.all(floods);
    await healthy(s);
  });

  test("a client that drops its follow stream does not cancel the run", async () => {
    const { reply } = await raw(
      s.socket,
      "POST /v1/jobs/talk/runs?follow=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
      { keepOpenMs: 150 },
    );
    const id = /"id":"([^"]+)"/.exec(reply)?.[1];
    assert.ok(id, reply);
    const run = await waitFor("the run to end", async () => {
      const r = (await call(s.socket, "GET", `/v1/runs/${id}`)).json as { run: { state: string } };
      return r.run.state === "running" || r.run.state === "queued" ? undefined : r.run;
    });
    assert.equal(run.state, "succeeded");
    assert.equal(
      (await call(s.socket, "GET", `/v1/runs/${id}/log`)).text,
      "line 1\nline 2\nline 3\nline 4\nline 5\n",
    );
  });

  test("a full queue answers 429 QUEUE_FULL", async () => {
    const post = () =>
      call(s.socket, "POST", "/v1/jobs/long/runs", JSON.stringify({ params: { secs: "30" } }));
    const first = (await post()).json as { run: { id: string } };
    const second = (await post()).json as { run: { id: string } };
    const third = await post();
    assert.equal(third.status, 429);
    assert.equal((third.json as { error: { code: string } }).error.code, "QUEUE_FULL");
    assert.equal((await call(s.socket, "DELETE", `/v1/runs/${second.run.id}`)).status, 202);
    assert.equal((await call(s.socket, "DELETE", `/v1/runs/${first.run.id}`)).status, 202);
    await waitFor("the queue to drain", async () =>
      ((await call(s.socket, "GET", "/v1/health")).json as { running: number }).running === 0
        ? true
        : undefined,
    );
    assert.equal(finalRun((await follow(s.socket, "noop")).events).state, "succeeded");
  });

  test("a request that completes while the server stops gets 503 SHUTTING_DOWN", async () => {
    const long = (
      await call(s.socket, "POST", "/v1/jobs/long/runs", JSON.stringify({ params: { secs: "1" } }))
    ).json as { run: { id: string } };
    assert.ok(long.run.id);
    const socket = connect(s.socket);
    let reply = "";
    socket.on("data", (c: Buffer) => {
      reply += c.toString();
    });
    await new Promise((r) => socket.once("connect", r));
    socket.write("POST /v1/jobs/noop/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{");
    await sleep(100);
    const stopped = s.stop();
    await sleep(100);
    socket.write("}");
    await waitFor("the answer", () => (reply.includes("\r\n\r\n{") ? true : undefined));
    assert.match(reply, /^HTTP\/1\.1 503/);
    assert.match(reply, /"code":"SHUTTING_DOWN"/);
    socket.destroy();
    assert.equal(await stopped, 0);
  });
});

describe("socket activation", () => {
  test("keyhold serve listens on the socket systemd hands over as fd 3 (LISTEN_FDS, LISTEN_PID)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keyhold-jobs-activate-"));
    const socket = join(dir, "activated.sock");
    const config = join(dir, "jobs.json");
    writeFileSync(
      config,
      JSON.stringify({ jobs: { noop: { argv: ["/bin/true"], cwd: dir, outputDir: join(dir, "out") } } }),
      { mode: 0o644 },
    );
    // systemd-socket-activate binds the socket and starts the server on the first connection,
    // passing the listening socket exactly as a .socket unit does.
    const activator = spawn(
      "systemd-socket-activate",
      [
        "-l",
        socket,
        process.execPath,
        ...cliArgv(["serve", "--config", config, "--state", join(dir, "state")]),
      ],
      {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8" },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    activator.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    try {
      await waitFor("the activator's socket", () => (existsSync(socket) ? true : undefined));
      const health = await call(socket, "GET", "/v1/health");
      assert.equal(health.status, 200);
      const run = finalRun((await follow(socket, "noop")).events);
      assert.equal(run.state, "succeeded");
      assert.match(stderr, /listening on fd 3/);
    } finally {
      activator.kill("SIGTERM");
      await new Promise((r) => activator.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("keyhold serve refuses bad start-up input with a code", () => {
  test("a bad config, a socket another server answers on, a path that is not a socket", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keyhold-jobs-start-"));
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8" };
    try {
      const bad = join(dir, "bad.json");
      writeFileSync(
        bad,
        JSON.stringify({ jobs: { a: { argv: ["/bin/true"], cwd: dir, outputDir: dir, timeout: 5 } } }),
      );
      const r1 = await runCli(["serve", "--config", bad, "--socket", join(dir, "s.sock")], env);
      assert.equal(r1.code, 1);
      assert.match(r1.stderr, /^keyhold: config jobs\.a: unknown key "timeout" \[CONFIG_UNKNOWN_KEY\]$/m);
      assert.equal(existsSync(join(dir, "s.sock")), false, "nothing was bound");
      const missing = await runCli(["serve", "--config", join(dir, "none.json")], env);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /\[FILE_NOT_FOUND\]/);
      const usage = await runCli(["serve", "--bogus"], env);
      assert.equal(usage.code, 2);

      const s = await startServer({
        config: ({ root, outputs }) => ({
          jobs: { noop: { argv: ["/bin/true"], cwd: root, outputDir: outputs } },
        }),
      });
      try {
        const again = await runCli(
          ["serve", "--config", s.configPath, "--socket", s.socket, "--state", join(dir, "state")],
          env,
        );
        assert.equal(again.code, 1);
        assert.match(again.stderr, /another server answers on .* \[SOCKET_IN_USE\]/);
        await healthy(s);
      } finally {
        await s.cleanup();
      }
      const notSocket = join(dir, "file");
      writeFileSync(notSocket, "x");
      const good = join(dir, "good.json");
      writeFileSync(
        good,
        JSON.stringify({ jobs: { a: { argv: ["/bin/true"], cwd: dir, outputDir: dir } } }),
        {
          mode: 0o644,
        },
      );
      const r3 = await runCli(
        ["serve", "--config", good, "--socket", notSocket, "--state", join(dir, "state")],
        env,
      );
      assert.equal(r3.code, 1);
      assert.match(r3.stderr, /exists and is not a socket \[SOCKET_IN_USE\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
