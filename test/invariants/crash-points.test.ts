/**
 * Crash safety, deterministically: instead of killing at random moments (crash.test.ts),
 * strace(1) delivers SIGKILL to keyhold on entry to its n-th rename() or unlink() — for every n
 * the operation makes. Under kill -9 (the page cache survives) those are exactly the steps that
 * change what is on disk, so this visits every state a killed write can leave: before each
 * file replacement, each removal, each lock release and each audit-head seal.
 *
 * After each crash point: the credential is whole — the old value or the new one (or absent /
 * present as the operation allows) — `keyhold get` decrypts it, the next operation on it works
 * (stale locks broken), nothing plaintext was lost or left behind, `ls` shows no damaged
 * entry and the audit log verifies.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type CliResult, firstErrorLine, initWorld, runCli, runCliOk } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";
import { encodingsOf, grepTree } from "../support/tree.js";

const COUNTED = ["rename", "renameat", "renameat2", "unlink", "unlinkat"];
const haveStrace = spawnSync("strace", ["-V"], { stdio: "ignore" }).status === 0;

interface CrashPoint {
  syscall: string;
  n: number;
}

interface Step {
  args: string[];
  input?: string;
}

/** Runs a step under strace, counting its rename/unlink calls (the main thread, where keyhold's writes happen). */
async function crashPointsOf(s: Scratch, step: Step): Promise<CrashPoint[]> {
  const trace = join(s.root, "trace.txt");
  await runCliOk(step.args, {
    env: s.env,
    ...(step.input === undefined ? {} : { input: step.input }),
    prefix: ["strace", "-qq", "-o", trace, "-e", `trace=${COUNTED.join(",")}`],
  });
  const counts = new Map<string, number>();
  for (const line of readFileSync(trace, "utf8").split("\n")) {
    const m = /^(\w+)\(/.exec(line);
    if (m && COUNTED.includes(m[1] as string))
      counts.set(m[1] as string, (counts.get(m[1] as string) ?? 0) + 1);
  }
  rmSync(trace);
  const points: CrashPoint[] = [];
  for (const [syscall, count] of counts) for (let n = 1; n <= count; n++) points.push({ syscall, n });
  assert.ok(points.length > 0, "the operation renamed or removed something");
  return points;
}

/**
 * Runs a step that strace kills on entry to the point's syscall. The count comes from one run;
 * another run may make one call fewer (a key or index created once, a lock found free), and
 * then it completes: that is reported, and the caller's checks accept the completed state.
 */
async function killedAt(
  s: Scratch,
  step: Step,
  p: CrashPoint,
  tally: { killed: number; completed: number },
): Promise<CliResult> {
  const r = await runCli(step.args, {
    env: s.env,
    ...(step.input === undefined ? {} : { input: step.input }),
    prefix: [
      "strace",
      "-qq",
      "-o",
      "/dev/null",
      "-e",
      `trace=${p.syscall}`,
      "-e",
      `inject=${p.syscall}:signal=KILL:when=${p.n}`,
    ],
  });
  if (r.code === 0) tally.completed++;
  else tally.killed++;
  return r;
}

/** Most points must really kill: the count is stable apart from the odd extra call. */
function assertMostlyKilled(
  tally: { killed: number; completed: number },
  t: { diagnostic(m: string): void },
): void {
  t.diagnostic(
    `${tally.killed + tally.completed} crash points: ${tally.killed} killed, ${tally.completed} ran to the end`,
  );
  assert.ok(
    tally.killed >= Math.ceil(0.75 * (tally.killed + tally.completed)),
    "strace killed keyhold at most points",
  );
}

/** The value `keyhold get` prints, or undefined when the credential does not exist. */
async function currentValue(s: Scratch, name: string, where: string): Promise<string | undefined> {
  const r = await runCli(["get", name], { env: s.env });
  if (r.code === 0) return r.stdout;
  const { code } = firstErrorLine(r.stderr);
  assert.equal(code, "CREDENTIAL_NOT_FOUND", `${where}: get ${name}: ${r.stderr.trim()}`);
  return undefined;
}

const label = (p: CrashPoint) => `killed at ${p.syscall} #${p.n}`;
const newTally = () => ({ killed: 0, completed: 0 });

describe("kill -9 at every step that changes the disk loses nothing", {
  skip: !haveStrace && "strace is not installed",
}, () => {
  let s: Scratch;
  const canary = makeCanary("crash-points");
  let serial = 0;
  const fresh = (prefix: string) => `${prefix}_${++serial}`;
  const val = (tag: string) => `${canary}-${tag}-${serial}`;

  before(async () => {
    s = await initWorld("keyhold-crash-points-");
  });
  after(() => s.cleanup());

  it("set of a new name", async (t) => {
    await runCliOk(["set", fresh("warmup")], { env: s.env, input: val("warmup") }); // creates the one-time keys
    const points = await crashPointsOf(s, { args: ["set", fresh("set")], input: val("new") });
    const tally = newTally();
    for (const p of points) {
      const name = fresh("set");
      const value = val("new");
      await killedAt(s, { args: ["set", name], input: value }, p, tally);
      const got = await currentValue(s, name, label(p));
      assert.ok(got === undefined || got === value, `${label(p)}: get returned another value`);
      await runCliOk(got === undefined ? ["set", name] : ["rotate", name], {
        env: s.env,
        input: val("next"),
      });
    }
    assertMostlyKilled(tally, t);
  });

  it("rotate", async (t) => {
    const name = fresh("rotate");
    let value = val("first");
    await runCliOk(["set", name], { env: s.env, input: value });
    value = val("counted");
    const points = await crashPointsOf(s, { args: ["rotate", name], input: value });
    const tally = newTally();
    for (const p of points) {
      const next = val("new");
      await killedAt(s, { args: ["rotate", name], input: next }, p, tally);
      const got = await currentValue(s, name, label(p));
      assert.ok(got === value || got === next, `${label(p)}: neither the old nor the new value`);
      value = val("after");
      await runCliOk(["rotate", name], { env: s.env, input: value });
      assert.equal(await currentValue(s, name, label(p)), value, `${label(p)}: the next rotate did not take`);
    }
    assertMostlyKilled(tally, t);
  });

  it("rollback", async (t) => {
    const prepare = async (name: string) => {
      await runCliOk(["set", name], { env: s.env, input: `${canary}-${name}-1` });
      await runCliOk(["rotate", name], { env: s.env, input: `${canary}-${name}-2` });
    };
    const counted = fresh("rollback");
    await prepare(counted);
    const points = await crashPointsOf(s, { args: ["rollback", counted] });
    const tally = newTally();
    for (const p of points) {
      const name = fresh("rollback");
      await prepare(name);
      await killedAt(s, { args: ["rollback", name] }, p, tally);
      const got = await currentValue(s, name, label(p));
      assert.ok(
        got === `${canary}-${name}-2` || got === `${canary}-${name}-1`,
        `${label(p)}: neither version`,
      );
      await runCliOk(["rollback", name, "--to", "2"], { env: s.env });
      assert.equal(await currentValue(s, name, label(p)), `${canary}-${name}-2`);
    }
    assertMostlyKilled(tally, t);
  });

  it("rm", async (t) => {
    const prepare = async (name: string) => {
      await runCliOk(["set", name], { env: s.env, input: `${canary}-${name}-1` });
      await runCliOk(["rotate", name], { env: s.env, input: `${canary}-${name}-2` });
    };
    const counted = fresh("rm");
    await prepare(counted);
    const points = await crashPointsOf(s, { args: ["rm", counted] });
    const damaged: string[] = [];
    const tally = newTally();
    for (const p of points) {
      const name = fresh("rm");
      await prepare(name);
      await killedAt(s, { args: ["rm", name] }, p, tally);
      const r = await runCli(["get", name], { env: s.env });
      const code = r.code === 0 ? "ok" : firstErrorLine(r.stderr).code;
      if (r.code === 0)
        assert.equal(r.stdout, `${canary}-${name}-2`, `${label(p)}: get returned another value`);
      else if (code !== "CREDENTIAL_NOT_FOUND") damaged.push(`${label(p)}: get ${name} -> ${code}`);
      // Whatever is left, the next operation on the name works.
      if (code === "CREDENTIAL_NOT_FOUND")
        await runCliOk(["set", name], { env: s.env, input: `${canary}-${name}-3` });
      else await runCliOk(["rm", name], { env: s.env });
    }
    assertMostlyKilled(tally, t);
    assert.deepEqual(damaged, [], "a killed rm left the name neither whole nor gone");
  });

  it("import --shred", async (t) => {
    const source = join(s.root, "import-source.txt");
    const prepare = (value: string) => writeFileSync(source, `${value}\n`, { mode: 0o600 });
    prepare(val("counted"));
    const points = await crashPointsOf(s, { args: ["import", fresh("import"), source, "--shred"] });
    const tally = newTally();
    for (const p of points) {
      const name = fresh("import");
      const value = val("imported");
      prepare(value);
      await killedAt(s, { args: ["import", name, source, "--shred"] }, p, tally);
      const got = await currentValue(s, name, label(p));
      if (got === undefined) {
        // Not stored: the original must still hold the value (nothing lost).
        assert.equal(readFileSync(source, "utf8"), `${value}\n`, `${label(p)}: the original was lost`);
        await runCliOk(["import", name, source, "--shred"], { env: s.env });
        assert.equal(await currentValue(s, name, label(p)), value);
      } else assert.equal(got, value, `${label(p)}: get returned another value`);
      assert.ok(
        !existsSync(source) ||
          readFileSync(source, "utf8") === `${value}\n` ||
          /^\0*$/.test(readFileSync(source, "latin1")),
      );
      rmSync(source, { force: true });
    }
    assertMostlyKilled(tally, t);
  });

  it("afterwards: ls shows no damaged entry, nothing plaintext, and the audit log verifies", async () => {
    const ls = JSON.parse((await runCliOk(["ls", "--json"], { env: s.env })).stdout) as {
      name: string;
      status: string;
    }[];
    assert.deepEqual(
      ls
        .filter((e) => e.status !== "ok" && e.status !== "leftover-temp")
        .map((e) => `${e.name}: ${e.status}`),
      [],
    );
    assert.deepEqual(
      grepTree([s.store, s.state], encodingsOf(canary)).map((h) => h.path),
      [],
      "plaintext in the store or state",
    );
    const verify = await runCli(["audit", "--verify"], { env: s.env });
    assert.equal(verify.code, 0, `audit --verify: ${verify.stdout}${verify.stderr}`);
  });
});
