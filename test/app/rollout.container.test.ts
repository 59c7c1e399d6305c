import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  bootForSuite,
  type Container,
  type ContainerSuite,
  KEYHOLD_INSIDE,
  needContainer,
} from "../harness/index.js";
import { startProcSampler } from "../support/proc-sampler.js";
import { makeCanary } from "../support/scratch.js";

/**
 * Rotation with restart inside a real systemd: two services read their key through
 * $CREDENTIALS_DIRECTORY (one rendered by `keyhold unit --health`, one hand-written with the bare
 * ID form); `ls`/`status` say which hold an earlier version after a plain rotate, `rotate --restart`
 * moves both, a value the health check refuses is rolled back with both services back on the old
 * version, and a keyhold killed with -9 at different points of `rotate --restart` leaves a state the
 * next run explains and finishes. Which version a service holds is read from the digest of its
 * /run/credentials file, never from the value.
 */

const keyhold = (...args: string[]) => ["/usr/bin/node", KEYHOLD_INSIDE, ...args];
const sha = (v: string) => createHash("sha256").update(v).digest("hex");

const APP = "/srv/app/app.mjs";
// The service loads its key at start and answers on a local port whether its (pretend) provider
// accepts it: one that starts with "kh-bad-" is refused, as a revoked key would be.
const APP_SOURCE = `import { createServer } from "node:net";
import { loadSecret } from "/opt/keyhold/dist/src/index.js";
const secret = await loadSecret("api_key");
const verdict = secret.expose().startsWith("kh-bad-") ? "refused" : "ok";
console.log("kh-app up bytes=" + secret.byteLength + " provider=" + verdict);
createServer((s) => s.end(verdict)).listen(Number(process.argv[2]), "127.0.0.1");
`;
// The health check asks the service (it does not read the credential: in systemd 252 an
// ExecStartPost= may run before the credentials directory is filled).
const HEALTH = "/srv/app/health.mjs";
const HEALTH_SOURCE = `import { connect } from "node:net";
const port = Number(process.argv[2]);
for (let i = 0; i < 100; i++) {
  const answer = await new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let data = "";
    s.on("data", (d) => (data += d));
    s.on("end", () => resolve(data));
    s.on("error", () => resolve(undefined));
  });
  if (answer === "ok") process.exit(0);
  if (answer !== undefined) { console.error("health: the service says " + answer); process.exit(1); }
  await new Promise((r) => setTimeout(r, 100));
}
console.error("health: no answer");
process.exit(1);
`;
const UNITS = ["kh-a.service", "kh-b.service"];

const values: string[] = [];
const fresh = (label = "rot") => {
  const v = makeCanary(label);
  values.push(v);
  return v;
};
let suite: ContainerSuite;

before(async () => {
  suite = await bootForSuite({ label: "rollout" });
  const c = suite.container;
  if (c === undefined) return;
  c.writeFile(APP, APP_SOURCE, { mode: 0o644 });
  c.writeFile(HEALTH, HEALTH_SOURCE, { mode: 0o644 });
  await c.check(keyhold("init"));
  await c.check(keyhold("set", "api_key", "--with-key", "host"), { input: fresh() });
  await c.check(
    keyhold(
      "unit",
      "kh-a",
      "--mode",
      "isolated",
      "--exec",
      `/usr/bin/node ${APP} 8101`,
      "--cred",
      "api_key",
      "--health",
      `/usr/bin/node ${HEALTH} 8101`,
      "--install",
    ),
  );
  // Hand-written, the bare ID form (systemd searches /etc/credstore.encrypted), as a runtime unit.
  c.writeFile(
    "/run/systemd/system/kh-b.service",
    `[Service]\nExecStart=/usr/bin/node ${APP} 8102\nExecStartPost=/usr/bin/node ${HEALTH} 8102\nLoadCredentialEncrypted=api_key\n`,
  );
  await c.check(["systemctl", "daemon-reload"]);
  await c.check(["systemctl", "start", ...UNITS]);
});

after(async () => {
  await suite?.stop();
});

/** The digest of the key a unit loaded, from its credentials directory. */
async function heldDigest(c: Container, unit: string): Promise<string> {
  const r = await c.check(["sha256sum", `/run/credentials/${unit}/api_key`]);
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
  const text = (await c.check(["cat", "/var/lib/keyhold/audit.log"])).stdout;
  return text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as AuditLine);
}

async function currentDigest(c: Container): Promise<string> {
  const r = await c.check(["sh", "-c", `${keyhold("get", "api_key").join(" ")} | sha256sum`]);
  return r.stdout.split(" ")[0] as string;
}

async function assertAllCurrentAndActive(c: Container, why: string): Promise<void> {
  const digest = await currentDigest(c);
  for (const u of UNITS) {
    assert.equal(await c.unitProperty(u, "ActiveState"), "active", `${u} active (${why})`);
    assert.equal(await heldDigest(c, u), digest, `${u} holds the current version (${why})`);
  }
  const ls = await c.check(keyhold("ls", "--json"));
  const entry = (JSON.parse(ls.stdout) as { name: string; status: string }[]).find(
    (e) => e.name === "api_key",
  );
  assert.equal(entry?.status, "ok", `ls: no stale (${why})`);
}

test("status names both units; a plain rotate leaves them stale in ls and status; rotate --restart moves them", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const status = await c.check(keyhold("status", "api_key", "--json"));
  const units = JSON.parse(status.stdout).units as { unit: string; holds: string; source: string }[];
  assert.deepEqual(units.map((u) => u.unit).sort(), UNITS);
  assert.ok(
    units.every((u) => u.holds === "current" && u.source === "systemd"),
    status.stdout,
  );

  const plain = await c.check(keyhold("rotate", "api_key"), { input: fresh() });
  assert.match(
    plain.stderr,
    /still hold the previous value until they restart: kh-a\.service, kh-b\.service/,
  );
  const ls = await c.check(keyhold("ls"));
  assert.match(ls.stdout, /^api_key\s+stale\s/m);
  assert.match(ls.stdout, /api_key: kh-a\.service, kh-b\.service/);
  const after = JSON.parse((await c.check(keyhold("status", "api_key", "--json"))).stdout).units as {
    holds: string;
    basis: string;
  }[];
  assert.ok(
    after.every((u) => u.holds === "stale" && u.basis.startsWith("certain")),
    JSON.stringify(after),
  );
  const doctor = await c.run(keyhold("doctor"));
  assert.equal(doctor.code, 3);
  assert.match(doctor.stdout, /FOUND {2}stale: kh-a\.service holds an earlier version of api_key/);

  const next = fresh();
  const sampler = await startProcSampler([next], ["keyhold.js"]);
  let restarted: Awaited<ReturnType<Container["run"]>>;
  try {
    restarted = await c.run(keyhold("rotate", "api_key", "--restart", "--settle", "2"), { input: next });
  } finally {
    const report = await sampler.stop();
    assert.deepEqual(report.hits, [], "the value appeared in a process's argv or environment");
  }
  assert.equal(restarted.code, 0, restarted.stderr);
  assert.match(restarted.stdout, /2 units restarted and healthy/);
  assert.equal(await currentDigest(c), sha(next));
  await assertAllCurrentAndActive(c, "after rotate --restart");
  const current = JSON.parse((await c.check(keyhold("status", "api_key", "--json"))).stdout).units as {
    holds: string;
  }[];
  assert.ok(current.every((u) => u.holds === "current"));
});

test("rotate --restart to a value the health check refuses rolls back: both services healthy on the old version", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const before = await currentDigest(c);
  const versionBefore = JSON.parse((await c.check(keyhold("history", "api_key", "--json"))).stdout).current;
  const bad = fresh("bad");
  const r = await c.run(keyhold("rotate", "api_key", "--restart", "--settle", "2"), { input: bad });
  assert.equal(r.code, 1, r.stdout);
  assert.match(
    r.stderr,
    /kh-a\.service failed: .*rolled back: api_key is version \d+ again \[UNIT_UNHEALTHY\]/,
  );
  assert.match(
    r.stdout,
    /rolled back: api_key is version \d+ again and every unit that was moved is healthy/,
  );
  assert.equal(
    JSON.parse((await c.check(keyhold("history", "api_key", "--json"))).stdout).current,
    versionBefore,
  );
  assert.equal(await currentDigest(c), before);
  await c.run(["systemctl", "reset-failed"]);
  await assertAllCurrentAndActive(c, "after the rollback");
  // The unit after the failing one was never touched.
  const records = await auditRecords(c);
  const failed = records.filter((r) => r.op === "restart" && r.result === "error");
  assert.equal(failed.at(-1)?.detail?.unit, "kh-a.service");
  assert.equal(failed.at(-1)?.code, "UNIT_UNHEALTHY");
  // Going back: a rollback record, then kh-a restarted onto the old version, healthy.
  const last = records.slice(records.indexOf(failed.at(-1) as AuditLine));
  assert.ok(last.some((r) => r.op === "rollback" && r.result === "ok"));
  assert.ok(last.some((r) => r.op === "restart" && r.result === "ok" && r.detail?.unit === "kh-a.service"));
  assert.ok(
    !last.some((r) => r.op === "restart" && r.detail?.unit === "kh-b.service"),
    "kh-b was never moved",
  );
});

test("--no-rollback leaves the new version and says so", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const good = await currentDigest(c);
  const goodVersion = JSON.parse((await c.check(keyhold("history", "api_key", "--json"))).stdout).current;
  const bad = fresh("bad");
  const r = await c.run(keyhold("rotate", "api_key", "--restart", "--settle", "1", "--no-rollback"), {
    input: bad,
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /stays version \d+ \(--no-rollback\) \[UNIT_UNHEALTHY\]/);
  assert.equal(await currentDigest(c), sha(bad));
  // Put things right for the tests after this one.
  const fixed = await c.run(keyhold("rollback", "api_key", "--to", String(goodVersion)));
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.equal(await currentDigest(c), good);
  await c.run(["systemctl", "reset-failed"]);
  await c.check(["systemctl", "restart", ...UNITS]);
  await assertAllCurrentAndActive(c, "after putting it right");
});

test("kill -9 of keyhold during rotate --restart, at several points: the next run explains and finishes", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const phases: string[] = [];
  // Each trial kills keyhold as soon as its intent record shows a given step (the record is
  // rewritten before each step is taken), with a value the health check accepts or refuses.
  const trials: { at: string; bad: boolean }[] = [
    { at: '"phase":"writing"', bad: false },
    { at: '"moved":\\[\\],"current":"kh-a', bad: false },
    { at: '"current":"kh-b', bad: false },
    { at: '"phase":"restarting"', bad: true },
    { at: '"phase":"rolling-back"', bad: true },
  ];
  for (const [trial, { at, bad }] of trials.entries()) {
    const value = fresh(bad ? "bad" : "rot");
    const versionBefore = JSON.parse((await c.check(keyhold("history", "api_key", "--json"))).stdout).current;
    const digestBefore = await currentDigest(c);
    // The value reaches keyhold on its stdin only (fd 3 carries it into the background job).
    const killed = await c.run(
      [
        "sh",
        "-c",
        `exec 3<&0; ${keyhold("rotate", "api_key", "--restart", "--settle", "1").join(" ")} <&3 >/dev/null 2>&1 & pid=$!; exec 3<&-
i=0; while [ $i -lt 1500 ] && ! grep -qE '${at}' /var/lib/keyhold/rollouts/*.json 2>/dev/null; do sleep 0.01; i=$((i+1)); done
kill -9 $pid; wait $pid; echo "exit=$?"; cat /var/lib/keyhold/rollouts/*.json 2>/dev/null`,
      ],
      { input: value, timeoutMs: 120_000 },
    );
    const phase = /"phase":"([a-z-]+)"/.exec(killed.stdout)?.[1] ?? "none";
    phases.push(`${at}:${phase}`);
    // The next run: doctor reports it (unless it finished or never started), then --fix finishes it.
    const doctor = await c.run(keyhold("doctor"));
    assert.notEqual(phase, "none", `trial ${trial}: killed at ${at}, the record is there: ${killed.stdout}`);
    assert.match(
      doctor.stdout,
      /FOUND {2}rollout-interrupted: a (rotation|rollback) of api_key/,
      `trial ${trial}: ${doctor.stdout}`,
    );
    // The next run is doctor --fix, or (trial 2) the next rotate --restart, which finishes the
    // interrupted one before its own.
    const nextValue = trial === 2 ? fresh() : undefined;
    const fix: Awaited<ReturnType<Container["run"]>> =
      nextValue === undefined
        ? await c.run(keyhold("doctor", "--fix"), { timeoutMs: 120_000 })
        : await c.run(keyhold("rotate", "api_key", "--restart", "--settle", "1"), {
            input: nextValue,
            timeoutMs: 120_000,
          });
    assert.doesNotMatch(fix.stdout, /FOUND {2}rollout-interrupted/, fix.stdout);
    assert.match(fix.stdout, /was interrupted .*; finishing it/, fix.stdout);
    if (nextValue !== undefined) {
      assert.equal(fix.code, 0, fix.stderr);
      assert.equal(await currentDigest(c), sha(nextValue), "then its own rotation");
    }
    assert.equal(
      (await c.run(["sh", "-c", "ls /var/lib/keyhold/rollouts/*.json"])).code,
      2,
      "no intent left",
    );
    t.diagnostic(`trial ${trial}: killed at ${at} (${phase}): ${fix.stdout.replaceAll("\n", " | ")}`);
    await c.run(["systemctl", "reset-failed"]);
    // Whatever the point, every unit is active on the current version, which is the old or the new value.
    const now = await currentDigest(c);
    if (bad) assert.equal(now, digestBefore, `trial ${trial}: a refused value never stays current`);
    else if (nextValue === undefined)
      assert.ok(now === digestBefore || now === sha(value), `trial ${trial}: old or new`);
    for (const u of UNITS) await c.waitForUnit(u, ["active"], 30_000);
    await assertAllCurrentAndActive(c, `trial ${trial} killed at ${at} in phase ${phase}`);
    const versionAfter = JSON.parse((await c.check(keyhold("history", "api_key", "--json"))).stdout).current;
    t.diagnostic(`trial ${trial}: version ${versionBefore} → ${versionAfter}`);
  }
  t.diagnostic(`phases hit: ${phases.join(", ")}`);
  assert.deepEqual(
    new Set(phases.map((p) => p.slice(p.lastIndexOf(":") + 1))),
    new Set(["writing", "restarting", "rolling-back"]),
    "killed in every phase",
  );
});

test("no value ever reaches the journal, the audit log, the unit files or the state directory in plaintext", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  await sleep(100);
  const journal = await c.journal(["-o", "cat"]);
  const audit = (await c.check(["cat", "/var/lib/keyhold/audit.log"])).stdout;
  const units = (
    await c.check(["sh", "-c", "cat /etc/systemd/system/kh-a.service /run/systemd/system/kh-b.service"])
  ).stdout;
  const state = (await c.check(["sh", "-c", "find /var/lib/keyhold -type f -exec cat {} +"])).stdout;
  assert.ok(values.length >= 5);
  for (const v of values) {
    for (const [where, text] of Object.entries({ journal, audit, units, state })) {
      assert.equal(text.includes(v), false, `a value in the ${where}`);
    }
  }
  assert.match(audit, /"op":"rollout"/);
  assert.match(journal, /kh-app up bytes=/, "the services ran and logged");
});
