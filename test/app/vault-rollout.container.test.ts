import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { vaultUnitPrefix } from "../../src/units/index.js";
import {
  bootForSuite,
  type Container,
  type ContainerSuite,
  keyholdInside as keyhold,
  needContainer,
} from "../harness/index.js";
import { startProcSampler } from "../support/proc-sampler.js";
import { makeCanary } from "../support/scratch.js";

/**
 * Rotation with restart for a vault secret, inside a real systemd: a service rendered by
 * `keyhold unit --vault app/api_key --health …` gets its key from keyhold's answering socket at each
 * start and checks it against a pretend provider (a file of the SHA-256 digests of the keys it
 * accepts). `vault ls` names the unit after a plain `vault put`; `vault put --restart` with an
 * accepted key moves it; a refused key fails its health check and is rolled back, the service
 * back on the old version and healthy; a keyhold killed with -9 mid-rollout is finished by
 * `doctor --fix`. Which key the service holds is read from the digest it reports, never the value.
 */

const sha = (v: string) => createHash("sha256").update(v).digest("hex");

const UNIT = "kh-v.service";
const REF = "app/api_key";
const ANSWERER = vaultUnitPrefix("kh-v", { ns: "app", name: "api_key" });
const ACCEPTED = "/srv/provider/accepted";
const APP = "/srv/app/app.mjs";
// The service loads its key at start and answers on a local port with the provider's verdict and
// the key's digest (the digest only: what the test compares).
const APP_SOURCE = `import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { loadSecret } from "/opt/keyhold/dist/src/index.js";
const secret = await loadSecret("api_key");
const digest = createHash("sha256").update(secret.exposeBytes()).digest("hex");
const accepted = readFileSync("${ACCEPTED}", "utf8").split("\\n").includes(digest);
console.log("kh-vapp up digest=" + digest.slice(0, 12) + " provider=" + (accepted ? "ok" : "refused"));
createServer((s) => s.end((accepted ? "ok " : "refused ") + digest)).listen(8201, "127.0.0.1");
`;
const ASK = "/srv/app/ask.mjs";
// The health check (and the test) ask the service; exit 0 only on "ok".
const ASK_SOURCE = `import { connect } from "node:net";
for (let i = 0; i < 100; i++) {
  const answer = await new Promise((resolve) => {
    const s = connect(8201, "127.0.0.1");
    let data = "";
    s.on("data", (d) => (data += d));
    s.on("end", () => resolve(data));
    s.on("error", () => resolve(undefined));
  });
  if (answer !== undefined) { console.log(answer); process.exit(answer.startsWith("ok ") ? 0 : 1); }
  await new Promise((r) => setTimeout(r, 100));
}
console.error("no answer");
process.exit(1);
`;

const values: string[] = [];
const fresh = (label = "vroll") => {
  const v = makeCanary(label);
  values.push(v);
  return v;
};
const accepted: string[] = [];
let suite: ContainerSuite;

async function accept(c: Container, value: string): Promise<void> {
  accepted.push(sha(value));
  c.writeFile(ACCEPTED, `${accepted.join("\n")}\n`, { mode: 0o644 });
}

before(async () => {
  suite = await bootForSuite({ label: "vaultroll" });
  const c = suite.container;
  if (c === undefined) return;
  c.writeFile(APP, APP_SOURCE, { mode: 0o644 });
  c.writeFile(ASK, ASK_SOURCE, { mode: 0o644 });
  const first = fresh();
  await accept(c, first);
  await c.check(keyhold("init"));
  await c.check(keyhold("vault", "init"));
  await c.check(keyhold("vault", "put", REF), { input: first });
  await c.check(
    keyhold(
      "unit",
      "kh-v",
      "--mode",
      "isolated",
      "--exec",
      `/usr/bin/node ${APP}`,
      "--vault",
      REF,
      "--health",
      `/usr/bin/node ${ASK}`,
      "--install",
    ),
  );
  await c.check(keyhold("vault", "grant", "kh-v", REF, "--ops", "read"));
  await c.check(["systemctl", "daemon-reload"]);
  await c.check(["systemctl", "start", `${ANSWERER}.socket`]);
  await c.check(["systemctl", "start", UNIT]);
});

after(async () => {
  await suite?.stop();
});

/** The digest of the key the running service holds, as it reports it. */
async function heldDigest(c: Container): Promise<string> {
  const r = await c.run(["/usr/bin/node", ASK]);
  const m = /^(ok|refused) ([0-9a-f]{64})$/m.exec(r.stdout);
  assert.ok(m, `the service answered: ${r.stdout} ${r.stderr}`);
  return m[2] as string;
}

async function currentVersion(c: Container): Promise<number> {
  const list = JSON.parse((await c.check(keyhold("vault", "versions", REF, "--json"))).stdout) as {
    version: number;
    current: boolean;
  }[];
  return list.find((v) => v.current)?.version ?? 0;
}

async function currentDigest(c: Container): Promise<string> {
  const r = await c.check(["sh", "-c", `${keyhold("vault", "get", REF).join(" ")} | sha256sum`]);
  return r.stdout.split(" ")[0] as string;
}

interface AuditLine {
  op: string;
  name?: string;
  result: string;
  code?: string;
  detail?: Record<string, unknown>;
}

async function auditRecords(c: Container): Promise<AuditLine[]> {
  return (await c.check(["cat", "/var/lib/keyhold/audit.log"])).stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as AuditLine);
}

async function staleIn(c: Container): Promise<string[] | undefined> {
  const list = JSON.parse((await c.check(keyhold("vault", "ls", "--json"))).stdout) as {
    ns: string;
    name: string;
    staleIn?: string[];
  }[];
  return list.find((s) => `${s.ns}/${s.name}` === REF)?.staleIn;
}

async function assertHealthyOnCurrent(c: Container, why: string): Promise<void> {
  assert.equal(await c.unitProperty(UNIT, "ActiveState"), "active", `${UNIT} active (${why})`);
  assert.equal(await heldDigest(c), await currentDigest(c), `${UNIT} holds the current version (${why})`);
  assert.equal(await staleIn(c), undefined, `vault ls: not stale (${why})`);
}

test("a plain vault put leaves the unit stale in vault ls; vault put --restart moves it onto the new version", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  await assertHealthyOnCurrent(c, "at the start");
  const second = fresh();
  await accept(c, second);
  await c.check(keyhold("vault", "put", REF), { input: second });
  assert.deepEqual(await staleIn(c), [UNIT], "started before version 2 was written");
  const ls = await c.check(keyhold("vault", "ls"));
  assert.match(ls.stdout, /app\/api_key: kh-v\.service \(restart them/);
  assert.notEqual(await heldDigest(c), sha(second), "still the first key");

  const third = fresh();
  await accept(c, third);
  const sampler = await startProcSampler([third], ["keyhold.js"]);
  let r: Awaited<ReturnType<Container["run"]>>;
  try {
    r = await c.run(keyhold("vault", "put", REF, "--restart", "--settle", "2"), { input: third });
  } finally {
    const report = await sampler.stop();
    assert.deepEqual(report.hits, [], "the value appeared in a process's argv or environment");
  }
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^restarting kh-v\.service \(version 3\)$/m);
  assert.match(r.stdout, /stored app\/api_key version 3; 1 unit restarted and healthy/);
  assert.equal(await heldDigest(c), sha(third), "the service runs the new version");
  await assertHealthyOnCurrent(c, "after vault put --restart");
  const records = await auditRecords(c);
  assert.ok(
    records.some(
      (x) =>
        x.op === "vault.restart" &&
        x.name === REF &&
        x.result === "ok" &&
        x.detail?.unit === UNIT &&
        x.detail?.version === 3,
    ),
  );
  assert.ok(records.some((x) => x.op === "vault.rollout" && x.result === "ok" && x.detail?.version === 3));

  // vault rollback --restart: version 2 current again, and the unit moved onto it.
  const back = await c.run(keyhold("vault", "rollback", REF, "--restart", "--settle", "1"));
  assert.equal(back.code, 0, back.stdout + back.stderr);
  assert.match(back.stdout, /app\/api_key is at version 2 again; 1 unit restarted and healthy/);
  assert.equal(await currentVersion(c), 2);
  assert.equal(await heldDigest(c), sha(second), "the service runs version 2 again");
  await assertHealthyOnCurrent(c, "after vault rollback --restart");
});

test("vault put --restart with a key the provider refuses: health fails, rolled back, the service healthy on the old version", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const before = await currentVersion(c);
  const good = await currentDigest(c);
  const bad = fresh("bad");
  const r = await c.run(keyhold("vault", "put", REF, "--restart", "--settle", "2"), {
    input: bad,
  });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(
    r.stderr,
    /kh-v\.service failed: .*rolled back: vault secret app\/api_key is version \d+ again \[UNIT_UNHEALTHY\]/,
  );
  assert.match(
    r.stdout,
    /rolled back: vault secret app\/api_key is version \d+ again and every unit that was moved is healthy on it/,
  );
  assert.equal(await currentVersion(c), before, "the previous version is current again");
  assert.equal(await currentDigest(c), good);
  await c.run(["systemctl", "reset-failed"]);
  await assertHealthyOnCurrent(c, "after the rollback");
  assert.equal(await heldDigest(c), good, "the service is back on the old key");
  const records = await auditRecords(c);
  const failed = records.filter((x) => x.op === "vault.restart" && x.result === "error").at(-1);
  assert.equal(failed?.detail?.unit, UNIT);
  assert.ok(Number(failed?.detail?.version) > before, "the refused version was the new one");
  const tail = records.slice(records.indexOf(failed as AuditLine));
  assert.ok(tail.some((x) => x.op === "vault.rollback" && x.result === "ok" && x.detail?.version === before));
  assert.ok(tail.some((x) => x.op === "vault.restart" && x.result === "ok" && x.detail?.version === before));
  assert.ok(
    tail.some((x) => x.op === "vault.rollout" && x.result === "error" && x.code === "UNIT_UNHEALTHY"),
  );
});

test("kill -9 of keyhold while vault put --restart moves a refused key: doctor names it, doctor --fix rolls it back", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const before = await currentVersion(c);
  const good = await currentDigest(c);
  const bad = fresh("bad");
  const killed = await c.run(
    [
      "sh",
      "-c",
      `exec 3<&0; ${keyhold("vault", "put", REF, "--restart", "--settle", "1").join(" ")} <&3 >/dev/null 2>&1 & pid=$!; exec 3<&-
i=0; while [ $i -lt 3000 ] && ! grep -qE '"phase":"restarting","units":\\["kh-v' /var/lib/keyhold/rollouts/*.json 2>/dev/null; do sleep 0.01; i=$((i+1)); done
kill -9 $pid; wait $pid; echo "exit=$?"; cat /var/lib/keyhold/rollouts/*.json 2>/dev/null`,
    ],
    { input: bad, timeoutMs: 120_000 },
  );
  assert.match(killed.stdout, /"kind":"vault","name":"app\/api_key"/, killed.stdout);
  const doctor = await c.run(keyhold("doctor"));
  assert.equal(doctor.code, 3, doctor.stdout);
  assert.match(
    doctor.stdout,
    /FOUND {2}rollout-interrupted: a rotation of vault secret app\/api_key to version \d+ was interrupted/,
  );
  assert.match(doctor.stdout, /sudo keyhold vault put app\/api_key --restart \(finishes it first\)/);
  const fix = await c.run(keyhold("doctor", "--fix"), { timeoutMs: 180_000 });
  assert.match(fix.stdout, /was interrupted .*; finishing it/, fix.stdout);
  assert.match(fix.stdout, /fixed {2}rollout-interrupted: .*\n {7}rolled back to version \d+/, fix.stdout);
  assert.equal((await c.run(["sh", "-c", "ls /var/lib/keyhold/rollouts/*.json"])).code, 2, "no intent left");
  assert.equal(await currentVersion(c), before, "the refused key never stays current");
  assert.equal(await currentDigest(c), good);
  await c.run(["systemctl", "reset-failed"]);
  await c.waitForUnit(UNIT, ["active"], 30_000);
  await assertHealthyOnCurrent(c, "after doctor --fix");
});

test("no key reaches the journal, the audit log, JSON output, the unit files or the state directory in plaintext", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const journal = await c.journal(["-o", "cat"]);
  const audit = (await c.check(["cat", "/var/lib/keyhold/audit.log"])).stdout;
  const units = (await c.check(["sh", "-c", "cat /etc/systemd/system/kh-v*"])).stdout;
  const state = (await c.check(["sh", "-c", "find /var/lib/keyhold -type f -exec cat {} +"])).stdout;
  const json = (await c.check(keyhold("vault", "ls", "--json"))).stdout;
  const status = (await c.check(keyhold("vault", "versions", REF, "--json"))).stdout;
  assert.ok(values.length >= 5);
  for (const v of values)
    for (const form of [v, Buffer.from(v).toString("base64"), Buffer.from(v).toString("hex")])
      for (const [where, text] of Object.entries({ journal, audit, units, state, json, status }))
        assert.equal(text.includes(form), false, `a value in the ${where}`);
  assert.match(journal, /kh-vapp up digest=/, "the service ran and logged");
  assert.match(audit, /"op":"vault\.rollout"/);
});
