import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, test } from "node:test";
import { isKeyholdError } from "../../src/secret/errors.js";
import { MAX_HEAD_BYTES, ResponseParser, type ResponseHead } from "../../src/jobs/wire.js";
import { runCli } from "./support.js";

/**
 * The client's HTTP/1.1 reply parser (src/jobs/wire.ts) and `keyhold trigger` against a socket
 * peer that is not a job server: whatever listens on the path given may send anything, and the
 * client must end with a coded error, holding no more than its bounds.
 */

interface Parsed {
  head: ResponseHead | undefined;
  body: string;
  ended: boolean;
}

/** Parses `reply` pushed in the given pieces, then closes (when `close`). */
function parse(pieces: Buffer[], close = true): Parsed {
  const out: Parsed = { head: undefined, body: "", ended: false };
  const parts: Buffer[] = [];
  const parser = new ResponseParser({
    head: (h) => {
      out.head = h;
    },
    data: (b) => parts.push(Buffer.from(b)),
    end: () => {
      out.ended = true;
    },
  });
  for (const p of pieces) parser.push(p);
  if (close) parser.close();
  out.body = Buffer.concat(parts).toString("latin1");
  return out;
}

/** Every way of cutting `bytes` in two. */
function everySplit(bytes: Buffer): Buffer[][] {
  return Array.from({ length: bytes.length + 1 }, (_, i) => [bytes.subarray(0, i), bytes.subarray(i)]);
}

/** What a real node:http server sends for `write` (a handler), as bytes on the wire. */
async function wireBytesOf(handle: (res: import("node:http").ServerResponse) => void): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), "keyhold-wire-"));
  const path = join(dir, "s.sock");
  const server = createHttpServer((_req, res) => handle(res));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      // node:net directly: the bytes exactly as the server wrote them.
      const conn = createConnection(path);
      const parts: Buffer[] = [];
      conn.on("data", (b: Buffer) => parts.push(b));
      conn.on("close", () => resolve(Buffer.concat(parts)));
      conn.on("error", reject);
      conn.write("POST /v1/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function expectMalformed(fn: () => unknown, what: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isKeyholdError(err), `not a coded error: ${String(err)}`);
    assert.equal(err.code, "SERVER_ERROR");
    assert.match(err.message, what);
    return true;
  });
}

describe("the reply parser", () => {
  test("a node:http server's chunked follow stream and its JSON reply, cut anywhere, parse alike", async () => {
    const chunked = await wireBytesOf((res) => {
      res.writeHead(200, { "Content-Type": "application/x-ndjson" });
      res.write('{"event":"accepted"}\n');
      res.write(`{"event":"output","data":"${"é".repeat(300)}"}\n`);
      res.end('{"event":"finished"}\n');
    });
    const json = await wireBytesOf((res) => {
      const text = '{"error":{"code":"JOB_NOT_FOUND","message":"no job named \\"x\\""}}\n';
      res.writeHead(404, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
      res.end(text);
    });
    assert.match(chunked.toString("latin1"), /Transfer-Encoding: chunked/);
    for (const [bytes, status] of [
      [chunked, 200],
      [json, 404],
    ] as const) {
      const whole = parse([bytes]);
      assert.equal(whole.head?.status, status);
      assert.ok(whole.ended);
      for (const pieces of everySplit(bytes)) assert.deepEqual(parse(pieces), whole);
      // One byte at a time, too.
      assert.deepEqual(parse([...bytes].map((b) => Buffer.from([b]))), whole);
    }
    assert.equal(
      parse([chunked]).body,
      Buffer.from(
        `{"event":"accepted"}\n{"event":"output","data":"${"é".repeat(300)}"}\n{"event":"finished"}\n`,
      ).toString("latin1"),
    );
  });

  test("a reply without a length is read until the connection closes", () => {
    const r = parse([Buffer.from("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nno")]);
    assert.deepEqual([r.head?.status, r.body, r.ended], [400, "no", true]);
  });

  const MALFORMED: [string, string | Buffer, RegExp][] = [
    ["not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\n", /status line/],
    ["an interim response", "HTTP/1.1 100 Continue\r\n\r\n", /status line/],
    ["HTTP/2", "HTTP/2 200\r\n\r\n", /status line/],
    ["bare LF lines", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", /head is longer|closed before a whole head/],
    ["a header without a colon", "HTTP/1.1 200 OK\r\nContent-Length 0\r\n\r\n", /not a field/],
    ["a folded header", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n", /not a field/],
    ["a NUL in a header", "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n", /not a field/],
    [
      "Content-Length twice",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      /given twice/,
    ],
    [
      "Content-Length and chunked",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      /both/,
    ],
    [
      "another transfer coding",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      /transfer coding/,
    ],
    ["a length that is not a number", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", /not a number/],
    [
      "a chunk size that is not hex",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      /hexadecimal/,
    ],
    [
      "a chunk size beyond 8 hex digits",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000000\r\n",
      /hexadecimal/,
    ],
    [
      "a chunk longer than its size",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
      /longer than its size/,
    ],
    [
      "a chunk-size line without end",
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;${"x".repeat(300)}`,
      /chunk-size line is longer/,
    ],
    [
      "trailers without end",
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${"X-T: y\r\n".repeat(3000)}`,
      /trailer section is longer/,
    ],
    ["a head without end", `HTTP/1.1 200 OK\r\n${"X-Pad: y\r\n".repeat(2000)}`, /head is longer/],
    ["a body cut short", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", /middle of the body/],
    [
      "a stream cut short",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
      /middle of the body/,
    ],
    ["a head cut short", "HTTP/1.1 200 OK\r\nContent-", /before a whole head/],
    ["bytes after the end", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab", /follow the end/],
    ["a 204 with a body", "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc", /204 reply with a body/],
  ];
  for (const [what, reply, message] of MALFORMED) {
    it(`refuses ${what} with SERVER_ERROR`, () => {
      expectMalformed(() => parse([Buffer.from(reply as string, "latin1")]), message);
    });
  }

  test("the head is bounded whatever the pieces it comes in", () => {
    const parser = new ResponseParser({ head: () => undefined, data: () => undefined, end: () => undefined });
    parser.push(Buffer.from("HTTP/1.1 200 OK\r\n"));
    expectMalformed(() => {
      for (let i = 0; i < MAX_HEAD_BYTES; i++) parser.push(Buffer.from("X"));
    }, /head is longer than 16384 bytes/);
  });
});

/** A socket peer that answers every connection with `answer`. */
async function hostilePeer(answer: (conn: Socket) => void): Promise<{ socket: string; close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), "keyhold-peer-"));
  const socket = join(dir, "jobs.sock");
  const server: Server = createServer((conn) => {
    conn.on("error", () => undefined);
    conn.once("data", () => answer(conn));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    close: () => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("keyhold trigger --follow against a socket peer that is not a job server", () => {
  let sent = 0;
  let endless: { socket: string; close(): void };
  let bigHead: { socket: string; close(): void };
  before(async () => {
    // A line without end: the client must give up at its bound, not keep all it is sent.
    endless = await hostilePeer((conn) => {
      conn.write("HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n");
      const block = Buffer.alloc(64 * 1024, "x");
      const more = () => {
        while (!conn.destroyed && sent < 256 * 1024 * 1024) {
          sent += block.length;
          if (!conn.write(block)) return void conn.once("drain", more);
        }
        conn.end();
      };
      more();
    });
    bigHead = await hostilePeer((conn) => {
      conn.end(`HTTP/1.1 200 OK\r\n${"X-Pad: y\r\n".repeat(100_000)}\r\n`);
    });
  });
  after(() => {
    endless.close();
    bigHead.close();
  });

  /** A follow reply holding `lines`, chunked as the server sends it. */
  function followReply(conn: Socket, lines: string[]): void {
    const chunks = lines.map((l) => `${Buffer.byteLength(l).toString(16)}\r\n${l}\r\n`).join("");
    conn.end(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks}0\r\n\r\n`);
  }

  test("a line that is not JSON: SERVER_ERROR before the run is accepted, STREAM_CUT (exit 4) after", async () => {
    const run = { id: "0000000aa-00000000", state: "running", log: null };
    const before = await hostilePeer((conn) => followReply(conn, ["<html>\n"]));
    const later = await hostilePeer((conn) =>
      followReply(conn, [`${JSON.stringify({ event: "accepted", run })}\n`, "<html>\n"]),
    );
    try {
      const r1 = await runCli(["trigger", "job", "--follow", "--socket", before.socket], {
        PATH: "/usr/bin:/bin",
      });
      assert.equal(r1.code, 1, r1.stderr);
      assert.match(r1.stderr, /^keyhold: the job server sent a line that is not JSON \[SERVER_ERROR\]$/m);
      const r2 = await runCli(["trigger", "job", "--follow", "--socket", later.socket], {
        PATH: "/usr/bin:/bin",
      });
      assert.equal(r2.code, 4, r2.stderr);
      assert.match(
        r2.stderr,
        /the stream of run 0000000aa-00000000 was cut before the run ended: the job server sent a line that is not JSON \[STREAM_CUT\]/,
      );
    } finally {
      before.close();
      later.close();
    }
  });

  test("a follow line without end: SERVER_ERROR at the client's bound, long before the peer is done", async () => {
    const r = await runCli(["trigger", "job", "--follow", "--socket", endless.socket], {
      PATH: "/usr/bin:/bin",
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^keyhold: the job server sent a line longer than 8388608 bytes \[SERVER_ERROR\]$/m,
    );
    assert.ok(sent < 64 * 1024 * 1024, `the peer could send ${sent} bytes before the client gave up`);
  });

  test("a head without end: SERVER_ERROR, coded", async () => {
    const r = await runCli(["trigger", "job", "--follow", "--socket", bigHead.socket], {
      PATH: "/usr/bin:/bin",
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /reply is not valid HTTP\/1\.1: the head is longer than 16384 bytes \[SERVER_ERROR\]$/m,
    );
  });
});
