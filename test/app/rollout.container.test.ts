import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
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
 * Rotation with restart inside a real systemd: two services read their key through
 * $CREDENTIALS_DIRECTORY (one rendered by `keyhold unit --health`, one hand-written with the bare
 * ID form); `ls`/`status` say which hold an earlier version after a plain rotate, `rotate --restart`
 * moves both, a value the health check refuses is rolled back with both services back on the old
 * version, and a keyhold killed with -9 at different points of `rotate --restart` leaves a state the
 * next run explains and finishes. Which version a service holds is read from the digest of its
 * /run/credentials file, never from the value.
 */

const sha = (v: string) => createHash("sha256").update(v).digest("hex");

const APP = "/srv/app/app.mjs";
// The service loads its key at start and answers on a local port whether its (pretend) provider
// accepts it: one that starts with "kh-bad-" is refused, as a revoked key would be; one that
// starts with "kh-badb-" only by a service started with "strict" (kh-b).
const APP_SOURCE = `import { createServer } from "node:net";
import { loadSecret } from "/opt/keyhold/dist/src/index.js";
const secret = await loadSecret("api_key");
const refused = secret.expose().startsWith("kh-bad-") || (process.argv[3] === "strict" && secret.expose().startsWith("kh-badb-"));
const verdict = refused ? "refused" : "ok";
console.log("kh-app up bytes=" + secret.byteLength + " provider=" + verdict);
createServer((s) => s.end(verdict)).listen(Number(process.argv[2]), "127.0.0.1");
`;
// The health check asks the service (it does not read the credential: in systemd 252 an
// ExecStartPost= may run before the credentials directory is filled). While /srv/app/hold-PORT
// exists it waits first, so that a test can act while a restart is in its health check.
const HEALTH = "/srv/app/health.mjs";
const HEALTH_SOURCE = `import { connect } from "node:net";
import { existsSync } from "node:fs";
const port = Number(process.argv[2]);
for (let i = 0; i < 1200 && existsSync("/srv/app/hold-" + port); i++) await new Promise((r) => setTimeout(r, 50));
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
    `[Service]\nExecStart=/usr/bin/node ${APP} 8102 strict\nExecStartPost=/usr/bin/node ${HEALTH} 8102\nLoadCredentialEncrypted=api_key\n`,
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

interface DoctorFinding {
  kind: string;
  message: string;
  fixed?: string;
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
  // The digests above prove it; status must say so too, certain of each unit however many rollbacks
  // came between (the metadata records when each version became current).
  const status = JSON.parse((await c.check(keyhold("status", "api_key", "--json"))).stdout).units as {
    unit: string;
    holds: string;
    basis: string;
  }[];
  for (const u of status)
    assert.ok(
      u.holds === "current" && u.basis.startsWith("certain: "),
      `status: ${u.unit} ${u.holds} (${u.basis}) (${why})`,
    );
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

/** keyhold run in the background inside (its value on stdin, its output in /tmp/bg.out); its pid. */
async function startKeyhold(c: Container, args: string[], input: string, env: Record<string, string> = {}) {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const r = await c.check(
    [
      "sh",
      "-c",
      `exec 3<&0; env ${vars.join(" ")} ${keyhold(...args).join(" ")} <&3 >/tmp/bg.out 2>&1 & echo $!; exec 3<&-`,
    ],
    { input },
  );
  return Number(r.stdout.trim());
}

async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const gone = async (c: Container, pid: number) => (await c.run(["kill", "-0", String(pid)])).code !== 0;
const stopped = async (c: Container, pid: number) =>
  /^T/.test((await c.run(["ps", "-o", "stat=", "-p", String(pid)])).stdout.trim());
const versionNow = async (c: Container): Promise<number> =>
  JSON.parse((await c.check(keyhold("history", "api_key", "--json"))).stdout).current;

/** What must hold after any rotation, finished or recovered. */
async function assertSettled(c: Container, why: string): Promise<void> {
  await c.run(["systemctl", "reset-failed"]);
  for (const u of UNITS) await c.waitForUnit(u, ["active"], 30_000);
  await assertAllCurrentAndActive(c, why);
  const doctor = await c.run(keyhold("doctor", "--json"));
  const open = (JSON.parse(doctor.stdout) as { findings: DoctorFinding[] }).findings.filter(
    (f) => f.fixed === undefined,
  );
  assert.deepEqual(open, [], `${why}: doctor finds nothing: ${doctor.stdout}${doctor.stderr}`);
  const verify = await c.run(keyhold("audit", "--verify"));
  assert.equal(verify.code, 0, `${why}: the audit chain verifies: ${verify.stdout}${verify.stderr}`);
  const left = await c.check(["ls", "-A", "/var/lib/keyhold/rollouts"]);
  assert.equal(left.stdout.trim(), "", `${why}: no intent record, lock or lock draft is left`);
}

/*
 * The kill -9 trials. Each names the step keyhold kills itself at (KEYHOLD_TEST_CRASH_AT, see
 * src/durable/crash-point.ts; "health:UNIT" is a kill from outside while UNIT's ExecStartPost=
 * health check is running), the value (good: both services accept it; bad: both refuse it, so
 * kh-a fails; badb: kh-a accepts it and kh-b refuses it, so both are moved and both go back), what
 * runs next (doctor --fix, or the next rotate --restart, which finishes it before its own), and
 * where the credential ends: the new version or the old one.
 */
type Ending = "forgotten" | "done" | "rolled-back";
interface Trial {
  at: string;
  value: "good" | "bad" | "badb";
  next: "fix" | "rotate";
  ends: Ending;
}
const KILL_TRIALS: Trial[] = [
  { at: "writing:intent", value: "good", next: "fix", ends: "forgotten" },
  { at: "store:version-listed", value: "good", next: "rotate", ends: "forgotten" },
  { at: "store:version-listed", value: "good", next: "fix", ends: "forgotten" },
  { at: "store:value-stored", value: "good", next: "fix", ends: "done" },
  { at: "writing:current", value: "good", next: "fix", ends: "done" },
  { at: "writing:current", value: "good", next: "rotate", ends: "done" },
  { at: "restarting:restart:kh-a.service", value: "good", next: "rotate", ends: "done" },
  { at: "health:kh-a.service", value: "good", next: "fix", ends: "done" },
  { at: "restarting:settle:kh-a.service", value: "good", next: "fix", ends: "done" },
  { at: "restarting:healthy:kh-a.service", value: "good", next: "rotate", ends: "done" },
  { at: "restarting:restart:kh-b.service", value: "good", next: "fix", ends: "done" },
  { at: "health:kh-b.service", value: "good", next: "rotate", ends: "done" },
  { at: "restarting:settle:kh-b.service", value: "good", next: "fix", ends: "done" },
  { at: "restarting:all-moved", value: "good", next: "fix", ends: "done" },
  { at: "restarting:restart:kh-a.service", value: "bad", next: "fix", ends: "rolled-back" },
  { at: "health:kh-b.service", value: "badb", next: "fix", ends: "rolled-back" },
  { at: "rolling-back:intent", value: "bad", next: "fix", ends: "rolled-back" },
  { at: "store:value-restored", value: "bad", next: "rotate", ends: "rolled-back" },
  { at: "store:value-restored", value: "badb", next: "fix", ends: "rolled-back" },
  { at: "rolling-back:switched", value: "badb", next: "fix", ends: "rolled-back" },
  { at: "rolling-back:restart:kh-a.service", value: "badb", next: "fix", ends: "rolled-back" },
  { at: "rolling-back:settle:kh-a.service", value: "bad", next: "rotate", ends: "rolled-back" },
  { at: "rolling-back:restart:kh-b.service", value: "badb", next: "rotate", ends: "rolled-back" },
  { at: "rolling-back:settle:kh-b.service", value: "badb", next: "fix", ends: "rolled-back" },
  { at: "rolling-back:all-back", value: "badb", next: "fix", ends: "rolled-back" },
];

const ENDING: Record<Ending, RegExp> = {
  forgotten: /the new version never became current: api_key is still version \d+, no unit was restarted/,
  done: /^(?![\s\S]*(never became current|rolled back))/,
  "rolled-back": /rolled back: api_key is version \d+ again and every unit that was moved is healthy on it/,
};
/** What doctor --fix says it did. */
const FIXED: Record<Ending, RegExp> = {
  forgotten: /the new version never became current; api_key is still version \d+/,
  done: /completed: version \d+ is current and every running unit was restarted onto it/,
  "rolled-back": /rolled back to version \d+/,
};

/** Kills keyhold at the trial's step; resolves with the intent record it left. */
async function killAt(c: Container, trial: Trial, value: string): Promise<string> {
  const args = ["rotate", "api_key", "--restart", "--settle", "1"];
  if (trial.at.startsWith("health:")) {
    // Held in its ExecStartPost= (the health check waits for the hold file to go), the unit is
    // in start-post while keyhold waits for its restart job: that is when keyhold is killed.
    const unit = trial.at.slice("health:".length);
    const hold = `/srv/app/hold-${unit === "kh-a.service" ? 8101 : 8102}`;
    c.writeFile(hold, "", { mode: 0o644 });
    const pid = await startKeyhold(c, args, value);
    await until(
      `${unit} in its health check`,
      async () => (await c.unitProperty(unit, "SubState")) === "start-post",
    );
    await c.check(["kill", "-9", String(pid)]);
    await until("keyhold gone", () => gone(c, pid));
    await c.check(["rm", "-f", hold]);
  } else {
    const r = await c.run(keyhold(...args), {
      input: value,
      env: { KEYHOLD_TEST_CRASH_AT: trial.at },
      timeoutMs: 120_000,
    });
    assert.ok(
      r.signal === "SIGKILL" || r.code === 137,
      `killed at ${trial.at}: ${r.code} ${r.signal} ${r.stdout}`,
    );
  }
  return (await c.check(["sh", "-c", "cat /var/lib/keyhold/rollouts/*.json"])).stdout;
}

test(`kill -9 of keyhold at every step of rotate --restart (${KILL_TRIALS.length} trials, 2 units): the next run explains and finishes or rolls back`, async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const seen = new Set<string>();
  for (const [n, trial] of KILL_TRIALS.entries()) {
    const why = `trial ${n} (killed at ${trial.at}, value ${trial.value}, then ${trial.next})`;
    const value = fresh(trial.value === "good" ? "rot" : trial.value);
    const was: { version: number; digest: string } = {
      version: await versionNow(c),
      digest: await currentDigest(c),
    };
    const record = await killAt(c, trial, value);
    const phase = /"phase":"([a-z-]+)"/.exec(record)?.[1];
    assert.ok(phase, `${why}: the intent record is there: ${record}`);
    seen.add(trial.at.startsWith("store:") ? trial.at : `${phase}:${trial.at.split(":")[1]}`);
    // The lock a killed keyhold held is still there; the intent record names it dead.
    const found = await c.run(keyhold("doctor"));
    assert.equal(found.code, 3, why);
    assert.match(
      found.stdout,
      /FOUND {2}rollout-interrupted: a (rotation|rollback) of api_key .*was interrupted/,
      why,
    );

    const nextValue = trial.next === "rotate" ? fresh() : undefined;
    const next: Awaited<ReturnType<Container["run"]>> =
      nextValue === undefined
        ? await c.run(keyhold("doctor", "--fix"), { timeoutMs: 180_000 })
        : await c.run(keyhold("rotate", "api_key", "--restart", "--settle", "1"), {
            input: nextValue,
            timeoutMs: 180_000,
          });
    t.diagnostic(`${why}: ${next.stdout.replaceAll("\n", " | ")}`);
    const interrupted =
      phase === "writing"
        ? /keyhold: a rotation of api_key from version \d+ was interrupted while writing the new version; finishing it/
        : phase === "restarting"
          ? /keyhold: a rotation of api_key to version \d+ was interrupted while restarting units.*; finishing it/
          : /keyhold: a rollback of api_key to version \d+ was interrupted.*; finishing it/;
    assert.match(next.stdout, interrupted, `${why}: says what it found`);
    if (!ENDING[trial.ends].test(next.stdout)) {
      // A unit that failed where it should not have: what it said belongs in the failure.
      const journal = await c.journal(["-u", "kh-a.service", "-u", "kh-b.service", "-n", "40", "-o", "cat"]);
      assert.fail(`${why}: says how it ended:\n${next.stdout}\nthe units' journal:\n${journal}`);
    }
    if (nextValue === undefined) {
      // doctor --fix exits 3 if anything is still open: nothing may be.
      assert.equal(next.code, 0, `${why}: ${next.code}: ${next.stdout}${next.stderr}`);
      assert.match(next.stdout, /^fixed {2}rollout-interrupted: /m, why);
      assert.match(next.stdout, FIXED[trial.ends], why);
    } else assert.equal(next.code, 0, `${why}: then its own rotation: ${next.stdout}${next.stderr}`);

    const after = await currentDigest(c);
    if (nextValue !== undefined) assert.equal(after, sha(nextValue), `${why}: its own rotation is current`);
    else if (trial.ends === "done") assert.equal(after, sha(value), `${why}: the new value is current`);
    else {
      assert.equal(after, was.digest, `${why}: the old value is current`);
      if (trial.ends === "rolled-back") assert.equal(await versionNow(c), was.version, why);
    }
    await assertSettled(c, why);
  }
  t.diagnostic(`steps hit: ${[...seen].join(", ")}`);
  for (const phase of ["writing", "restarting", "rolling-back"])
    assert.ok(
      [...seen].some((s) => s.startsWith(`${phase}:`)),
      `killed in phase ${phase}`,
    );
});

test("a plain rotate or rollback while a rollout is under way is refused by name, so the rollout's rollback cannot undo it", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const was = { version: await versionNow(c), digest: await currentDigest(c) };
  // The rollout moves to a value kh-a refuses, held (SIGSTOP) just before kh-a's restart.
  const pid = await startKeyhold(c, ["rotate", "api_key", "--restart", "--settle", "1"], fresh("bad"), {
    KEYHOLD_TEST_PAUSE_AT: "restarting:restart:kh-a.service",
  });
  await until("the rollout held before kh-a's restart", () => stopped(c, pid));
  const other = fresh();
  const plain = await c.run(keyhold("rotate", "api_key"), { input: other });
  const rollback = await c.run(keyhold("rollback", "api_key"));
  await c.check(["kill", "-CONT", String(pid)]);
  await until("the rollout's end", () => gone(c, pid), 120_000);
  const rollout = (await c.check(["cat", "/tmp/bg.out"])).stdout;
  assert.match(rollout, /rolled back: api_key is version \d+ again/, rollout);
  if (plain.code === 0)
    assert.equal(
      await currentDigest(c),
      sha(other),
      "the plain rotate succeeded during the rollout, and the rollout's rollback silently undid it",
    );
  assert.equal(plain.code, 1, plain.stdout);
  assert.match(
    plain.stderr,
    /rotate api_key refused: a rotation of api_key to version \d+ with restarts \(keyhold pid \d+, .*\) is under way \[ROLLOUT_IN_PROGRESS\]/,
  );
  assert.equal(rollback.code, 1, rollback.stdout);
  assert.match(rollback.stderr, /rollback api_key refused: .* is under way \[ROLLOUT_IN_PROGRESS\]/);
  assert.equal(await currentDigest(c), was.digest);
  assert.equal(await versionNow(c), was.version);
  await assertSettled(c, "after the held rollout");

  // A rollout a killed keyhold left in its rollback: a plain rotate now would be undone by
  // doctor --fix finishing that rollback, so it is refused until the rollout is finished.
  const killed = await c.run(keyhold("rotate", "api_key", "--restart", "--settle", "1"), {
    input: fresh("bad"),
    env: { KEYHOLD_TEST_CRASH_AT: "rolling-back:intent" },
  });
  assert.ok(killed.signal === "SIGKILL" || killed.code === 137, `${killed.code} ${killed.signal}`);
  const refused = await c.run(keyhold("rotate", "api_key"), { input: fresh() });
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /rotate api_key refused: a rollback of api_key to version \d+ \(started .*\) was interrupted and is unfinished \[ROLLOUT_INTERRUPTED\]/,
  );
  assert.match(refused.stderr, /finish it first: sudo keyhold doctor --fix/);
  const fixed = await c.run(keyhold("doctor", "--fix"), { timeoutMs: 120_000 });
  assert.match(fixed.stdout, /^fixed {2}rollout-interrupted: a rollback of api_key/m, fixed.stdout);
  assert.equal(fixed.code, 0, fixed.stdout);
  const later = fresh();
  const now = await c.run(keyhold("rotate", "api_key"), { input: later });
  assert.equal(now.code, 0, now.stderr);
  assert.equal(await currentDigest(c), sha(later));
  await c.check(["systemctl", "restart", ...UNITS]);
  await assertSettled(c, "after the plain rotate");
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
