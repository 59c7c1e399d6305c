import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { PROJECT_ROOT, startServer, type TestServer } from "./support.js";

/**
 * Runs every request of test/vectors/jobserver/ (made by generate-vectors.ts) against a real
 * server and checks the status and error code each one expects.
 */

const dir = join(PROJECT_ROOT, "test/vectors/jobserver");

interface Vector {
  file: string;
  name: string;
  status: number;
  code: string | undefined;
  bytes: Buffer;
}

function parseVector(file: string): Vector {
  const text = readFileSync(join(dir, file), "utf8");
  const split = text.indexOf("\n\n");
  const header = new Map(
    text
      .slice(0, split)
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()] as [string, string]),
  );
  const [status, code] = (header.get("expect") ?? "").split(" ");
  const body = text.slice(split + 2);
  let bytes: Buffer;
  if (header.get("encoding") === "base64") bytes = Buffer.from(body.trim(), "base64");
  else {
    // The head's lines end with CRLF on the wire; the body after the blank line is sent as is.
    const end = body.indexOf("\n\n");
    const head = end === -1 ? body : body.slice(0, end + 2);
    bytes = Buffer.from(head.replace(/\n/g, "\r\n") + (end === -1 ? "" : body.slice(end + 2)));
  }
  return { file, name: header.get("name") ?? file, status: Number(status), code, bytes };
}

function send(socket: string, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let reply = "";
    s.on("data", (c: Buffer) => {
      reply += c.toString("utf8");
      // Answers to requests the server stops reading (413, 431) end the exchange early.
      if (/\r\n\r\n\{.*\}\n$/s.test(reply) || /^HTTP\/1\.1 4\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n$/.test(reply))
        s.end();
    });
    s.on("error", () => undefined);
    s.on("close", () => resolve(reply));
    s.on("connect", () => s.write(bytes));
    setTimeout(() => reject(new Error("no answer")), 10_000).unref();
  });
}

let server: TestServer;
before(async () => {
  server = await startServer({
    config: ({ root, outputs }) => ({
      jobs: {
        noop: { argv: ["/bin/true"], cwd: root, outputDir: outputs },
        echo: {
          argv: ["/bin/echo", "{word}"],
          cwd: root,
          outputDir: outputs,
          params: { word: { pattern: "[a-z]+" } },
        },
      },
    }),
  });
});
after(async () => {
  await server.cleanup();
});

const files = readdirSync(dir)
  .filter((f) => f.endsWith(".txt"))
  .sort();

test("the vectors are there", () => {
  assert.ok(files.length >= 20, `only ${files.length} vectors in ${dir}`);
});

for (const file of files) {
  const v = parseVector(file);
  test(`vector ${v.file}: ${v.status}${v.code ? ` ${v.code}` : ""}`, async () => {
    const reply = await send(server.socket, v.bytes);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1]);
    assert.equal(status, v.status, reply.slice(0, 300));
    if (v.code !== undefined) {
      const body = reply.slice(reply.indexOf("\r\n\r\n") + 4);
      assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, v.code);
    }
  });
}
