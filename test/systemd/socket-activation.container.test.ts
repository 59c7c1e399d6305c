import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  bootForSuite,
  type ContainerSuite,
  keyholdInside as keyhold,
  needContainer,
} from "../harness/index.js";
import { makeCanary } from "../support/scratch.js";

/**
 * `keyhold unit --socket`: systemd holds the listening socket, so `keyhold rotate --restart` of a
 * socket-activated service refuses no connection: a client connecting all through the restart is
 * never refused, and the service ends up on the new version.
 */

const WEB = "/srv/web/web.mjs";
// Listens on the socket systemd hands it (fd 3) and answers each connection at once.
const WEB_SOURCE = `import { createServer } from "node:net";
import { loadSecret } from "/opt/keyhold/dist/src/index.js";
const secret = await loadSecret("web_key");
if (process.env.LISTEN_FDS !== "1") { console.error("no socket from systemd"); process.exit(1); }
createServer((s) => s.end("ok")).listen({ fd: 3 });
console.log("kh-web up bytes=" + secret.byteLength);
`;
const HEALTH = "/srv/web/health.mjs";
const HEALTH_SOURCE = `import { connect } from "node:net";
const s = connect(8200, "127.0.0.1");
let data = "";
s.on("data", (d) => (data += d));
s.on("end", () => process.exit(data === "ok" ? 0 : 1));
s.on("error", () => process.exit(1));
`;
// Connects every 5 ms until told to stop (a file appears); counts answers and refusals.
const CLIENT = "/srv/web/client.mjs";
const STOP = "/run/kh-client-stop";
const CLIENT_SOURCE = `import { connect } from "node:net";
import { existsSync } from "node:fs";
const counts = { ok: 0, refused: 0, other: 0 };
while (!existsSync("${STOP}")) {
  await new Promise((resolve) => {
    const s = connect(8200, "127.0.0.1");
    let data = "";
    s.on("data", (d) => (data += d));
    s.on("end", () => { if (data === "ok") counts.ok++; else counts.other++; resolve(); });
    s.on("error", (e) => { if (e.code === "ECONNREFUSED") counts.refused++; else counts.other++; resolve(); });
  });
  await new Promise((r) => setTimeout(r, 5));
}
console.log(JSON.stringify(counts));
`;

let suite: ContainerSuite;
before(async () => {
  suite = await bootForSuite({ label: "socket" });
  const c = suite.container;
  if (c === undefined) return;
  for (const [path, source] of [
    [WEB, WEB_SOURCE],
    [HEALTH, HEALTH_SOURCE],
    [CLIENT, CLIENT_SOURCE],
  ] as const)
    c.writeFile(path, source, { mode: 0o644 });
  await c.check(keyhold("init"));
  await c.check(keyhold("set", "web_key", "--with-key", "host"), { input: makeCanary("web") });
  await c.check(
    keyhold(
      "unit",
      "kh-web",
      "--mode",
      "isolated",
      "--exec",
      `/usr/bin/node ${WEB}`,
      "--cred",
      "web_key",
      "--socket",
      "127.0.0.1:8200",
      "--health",
      `/usr/bin/node ${HEALTH}`,
      "--install",
    ),
  );
  await c.check(["systemctl", "daemon-reload"]);
  await c.check(["systemctl", "start", "kh-web.socket", "kh-web.service"]);
});

after(async () => {
  await suite?.stop();
});

test("rotate --restart of a socket-activated service refuses no connection", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const next = makeCanary("web");
  const invocation = await c.unitProperty("kh-web.service", "InvocationID");
  const client = c.run(["/usr/bin/node", CLIENT], { timeoutMs: 120_000 });
  await sleep(1500);
  const rotated = await c.run(keyhold("rotate", "web_key", "--restart", "--settle", "2"), { input: next });
  // The client ran all through the rotation: it stops only now.
  c.writeFile(STOP, "");
  const counts = JSON.parse((await client).stdout) as { ok: number; refused: number; other: number };
  t.diagnostic(`client: ${JSON.stringify(counts)}`);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stdout, /1 unit restarted and healthy/);
  assert.equal(counts.refused, 0, "a connection was refused during the restart");
  assert.equal(counts.other, 0, "a connection was cut during the restart");
  assert.ok(counts.ok > 0);
  assert.notEqual(
    await c.unitProperty("kh-web.service", "InvocationID"),
    invocation,
    "the service was restarted",
  );
  const held = (await c.check(["sha256sum", "/run/credentials/kh-web.service/web_key"])).stdout.split(" ")[0];
  assert.equal(held, createHash("sha256").update(next).digest("hex"));
  const journal = await c.journal(["-u", "kh-web.service", "-o", "cat"]);
  assert.equal(journal.includes(next), false);
});
