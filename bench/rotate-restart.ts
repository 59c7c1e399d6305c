/**
 * `keyhold rotate NAME --restart` (docs/units.md "Rotation with restart"), measured inside a
 * container running a real systemd, in one run:
 *  (a) the whole `keyhold rotate NAME --restart` of one service against a bare
 *      `systemctl restart` of the same service (whole process against whole process, run
 *      alternately by one script inside the container), with the default settle time (5 s) and
 *      with `--settle 0`, which leaves keyhold's own work: start-up, encrypting and storing the
 *      new version, the audit records, finding the units, reset-failed, the restart itself and
 *      asking systemd whether the unit is active;
 *  (b) the requests a client loses while such a rotation runs, under a steady load (one client,
 *      a new TCP connection every 5 ms, each waiting for its answer), for a socket-activated
 *      service (`keyhold unit --socket`) and for one that listens itself.
 * Both services are isolated units rendered by `keyhold unit --health`, each loading its own key.
 * Run: `npm run bench -- rotate-restart` or `node dist/bench/rotate-restart.js`.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { bootForSuite, type Container, KEYHOLD_INSIDE } from "../test/harness/index.js";
import { type Comparison, loadNow, printComparison, printEnvironment, printHeader } from "./measure.js";

const DIR = "/srv/bench";
// Answers each connection with "ok"; listens on the socket systemd hands it (fd 3) if it got one.
const SERVICE_SOURCE = `import { createServer } from "node:net";
import { loadSecret } from "/opt/keyhold/dist/src/index.js";
const secret = await loadSecret(process.argv[2]);
const server = createServer((s) => s.end(secret.byteLength > 0 ? "ok" : "no key"));
if (process.env.LISTEN_FDS === "1") server.listen({ fd: 3 });
else server.listen(Number(process.argv[3]), "127.0.0.1");
`;
// The health check: retries the service's port for up to 10 s until it answers "ok".
const HEALTH_SOURCE = `import { connect } from "node:net";
const port = Number(process.argv[2]);
for (let i = 0; i < 200; i++) {
  const answer = await new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let data = "";
    s.on("data", (d) => (data += d));
    s.on("end", () => resolve(data));
    s.on("error", () => resolve(undefined));
  });
  if (answer === "ok") process.exit(0);
  await new Promise((r) => setTimeout(r, 50));
}
process.exit(1);
`;
// The steady load: a new connection every 5 ms until the stop file appears; counts outcomes.
const CLIENT_SOURCE = `import { connect } from "node:net";
import { existsSync } from "node:fs";
const [port, stop] = [Number(process.argv[2]), process.argv[3]];
const counts = { sent: 0, ok: 0, refused: 0, other: 0 };
while (!existsSync(stop)) {
  counts.sent++;
  await new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let data = "";
    s.setTimeout(10000, () => s.destroy(new Error("timeout")));
    s.on("data", (d) => (data += d));
    s.on("end", () => { if (data === "ok") counts.ok++; else counts.other++; resolve(); });
    s.on("error", (e) => { if (e.code === "ECONNREFUSED") counts.refused++; else counts.other++; resolve(); });
  });
  await new Promise((r) => setTimeout(r, 5));
}
console.log(JSON.stringify(counts));
`;
// Medians of two whole commands run alternately N times after a warm-up; a command given an
// "input" gets a fresh random value on its stdin each time (the new key of a rotation).
const PAIRED_SOURCE = `import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
const [runs, a, b] = [Number(process.argv[2]), JSON.parse(process.argv[3]), JSON.parse(process.argv[4])];
const once = (c) => {
  const input = c.input ? "bench-" + randomBytes(24).toString("hex") : undefined;
  const t = process.hrtime.bigint();
  const r = spawnSync(c.argv[0], c.argv.slice(1), { input, stdio: [input ? "pipe" : "ignore", "ignore", "pipe"] });
  if (r.status !== 0) { process.stderr.write(c.argv.join(" ") + " exited " + r.status + ": " + r.stderr); process.exit(1); }
  return Number(process.hrtime.bigint() - t) / 1e6;
};
const ta = [], tb = [];
for (let i = 0; i < runs + 1; i++) {
  const x = once(a), y = once(b);
  if (i >= 1) { ta.push(x); tb.push(y); }
}
const median = (xs) => { xs.sort((p, q) => p - q); const m = xs.length >> 1; return xs.length % 2 ? xs[m] : (xs[m - 1] + xs[m]) / 2; };
process.stdout.write(JSON.stringify([median(ta), median(tb)]));
`;

const keyhold = (...args: string[]) => ["/usr/bin/node", KEYHOLD_INSIDE, ...args];
const SETTLE_DEFAULT_S = 5;
const ROTATIONS_UNDER_LOAD = 3;

interface Service {
  unit: string;
  key: string;
  port: number;
  socket: boolean;
}
const PLAIN: Service = { unit: "kh-bench-plain", key: "plain_key", port: 8301, socket: false };
const SOCKET: Service = { unit: "kh-bench-sock", key: "sock_key", port: 8300, socket: true };

async function install(c: Container, s: Service): Promise<void> {
  await c.check(keyhold("set", s.key, "--with-key", "host"), {
    input: `bench-${randomBytes(24).toString("hex")}`,
  });
  await c.check(
    keyhold(
      "unit",
      s.unit,
      "--mode",
      "isolated",
      "--exec",
      `/usr/bin/node ${DIR}/service.mjs ${s.key} ${s.port}`,
      "--cred",
      s.key,
      "--health",
      `/usr/bin/node ${DIR}/health.mjs ${s.port}`,
      ...(s.socket ? ["--socket", `127.0.0.1:${s.port}`] : []),
      "--install",
    ),
  );
  await c.check(["systemctl", "daemon-reload"]);
  if (s.socket) await c.check(["systemctl", "start", `${s.unit}.socket`]);
  await c.check(["systemctl", "start", `${s.unit}.service`]);
}

/** Medians (ms) of `rotate --restart --settle S` of the plain service and a bare restart of it. */
async function timeRotation(c: Container, settleS: number, runs: number): Promise<[number, number]> {
  const rotate = { argv: keyhold("rotate", PLAIN.key, "--restart", "--settle", String(settleS)), input: true };
  const bare = { argv: ["systemctl", "restart", `${PLAIN.unit}.service`] };
  const r = await c.check(
    ["/usr/bin/node", `${DIR}/paired.mjs`, String(runs), JSON.stringify(rotate), JSON.stringify(bare)],
    { timeoutMs: 600_000 },
  );
  return JSON.parse(r.stdout) as [number, number];
}

interface Load {
  sent: number;
  ok: number;
  refused: number;
  other: number;
}

/** The client's counts over ROTATIONS_UNDER_LOAD rotations of the service (1 s of load around each). */
async function loadDuringRotations(c: Container, s: Service): Promise<Load> {
  const stop = `/run/kh-bench-stop-${s.port}`;
  const out = `/run/kh-bench-load-${s.port}.json`;
  await c.run(["rm", "-f", stop, out]);
  await c.check(["sh", "-c", `/usr/bin/node ${DIR}/client.mjs ${s.port} ${stop} > ${out} 2>&1 &`]);
  await c.check(["sleep", "1"]);
  for (let i = 0; i < ROTATIONS_UNDER_LOAD; i++) {
    await c.check(keyhold("rotate", s.key, "--restart", "--settle", "1"), {
      input: `bench-${randomBytes(24).toString("hex")}`,
      timeoutMs: 120_000,
    });
    await c.check(["sleep", "1"]);
  }
  await c.check(["touch", stop]);
  for (let i = 0; i < 200; i++) {
    const text = (await c.run(["cat", out])).stdout.trim();
    if (text.startsWith("{")) return JSON.parse(text) as Load;
    await c.check(["sleep", "0.1"]);
  }
  throw new Error(`the load client for ${s.unit} did not report`);
}

async function main(): Promise<void> {
  const suite = await bootForSuite({ label: "bench-rotate" });
  const c = suite.container;
  if (c === undefined) {
    console.log(`\n### rotate --restart\n\nnot measured: ${suite.skipReason ?? "no container"}`);
    return;
  }
  try {
    c.writeFile("/etc/ld.so.cache", readFileSync("/etc/ld.so.cache"));
    for (const [file, source] of [
      ["service.mjs", SERVICE_SOURCE],
      ["health.mjs", HEALTH_SOURCE],
      ["client.mjs", CLIENT_SOURCE],
      ["paired.mjs", PAIRED_SOURCE],
    ] as const)
      c.writeFile(`${DIR}/${file}`, source, { mode: 0o644 });
    await c.check(keyhold("init"));
    await install(c, PLAIN);
    await install(c, SOCKET);

    const [zeroMs, bareZeroMs] = await timeRotation(c, 0, 9);
    const [settleMs, bareSettleMs] = await timeRotation(c, SETTLE_DEFAULT_S, 5);
    const results: Comparison[] = [
      {
        what: "rotate one service's key and restart it, `--settle 0` (keyhold's own work)",
        how: "whole processes",
        ours: "`keyhold rotate KEY --restart --settle 0`",
        oursMs: zeroMs,
        peer: "`systemctl restart UNIT`",
        peerMs: bareZeroMs,
        goal: "≤ the bare restart + 1 s",
        met: zeroMs - bareZeroMs <= 1000,
      },
      {
        what: `the same with the default settle time (${SETTLE_DEFAULT_S} s)`,
        how: "whole processes",
        ours: "`keyhold rotate KEY --restart`",
        oursMs: settleMs,
        peer: "`systemctl restart UNIT`",
        peerMs: bareSettleMs,
        goal: `≤ the bare restart + ${SETTLE_DEFAULT_S} s + 1 s`,
        met: settleMs - bareSettleMs <= SETTLE_DEFAULT_S * 1000 + 1000,
      },
    ];
    printEnvironment("PATH, HOME and LANG only (the harness runs every command inside with env -i)");
    printHeader(
      `rotate --restart of one service (${new Date().toISOString().slice(0, 10)}, ${process.version}, inside a systemd container, ${cpus().length} cores)`,
    );
    for (const x of results) printComparison(x);
    console.log(`\nLoad average after the table: ${loadNow()} (host; the container shares its CPUs).`);

    const socket = await loadDuringRotations(c, SOCKET);
    const plain = await loadDuringRotations(c, PLAIN);
    console.log(
      `\n### requests lost during ${ROTATIONS_UNDER_LOAD} rotations with \`rotate --restart --settle 1\` (one client, a new connection every 5 ms)\n`,
    );
    console.log("| service | requests | answered | refused | other failures | goal | result |");
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    for (const [label, l, goal] of [
      ["socket-activated (`keyhold unit --socket`)", socket, true],
      ["listens itself", plain, false],
    ] as const) {
      const lost = l.sent - l.ok;
      console.log(
        `| ${label} | ${l.sent} | ${l.ok} | ${l.refused} | ${l.other} | ${goal ? "0 lost" : "(reference)"} | ${goal ? (lost === 0 ? "met" : "not met") : `${lost} lost`} |`,
      );
    }
    console.log(`\nLoad average after the table: ${loadNow()}.`);
  } finally {
    await suite.stop();
  }
}

await main();
