/**
 * Crash safety: a write either completes or leaves the previous state. `keyhold set` (new
 * name) and `keyhold rotate` are killed with SIGKILL at moments spread over their whole run
 * (0-300 ms, or the whole run as measured first on this machine when it is slower); after each kill the credential is absent
 * (set) or the old value (rotate), or the new value — whole and decryptable with `keyhold get`
 * — and the next write works (a stale lock is broken). At the end `ls` shows no damaged entry,
 * every credential decrypts, and the audit log verifies.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { firstErrorLine, initWorld, runCli, runCliOk, startCli } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";
import { encodingsOf, grepTree } from "../support/tree.js";

const TRIALS = 50;
// Kills land within 0-300 ms of the start, or across the whole measured run where the machine
// is slower than that (a loaded CI host), so the write steps at the end are always covered.
const MIN_WINDOW_MS = 300;
const MAX_WINDOW_MS = 600;

const killWindow = (duration: number): number =>
  Math.min(MAX_WINDOW_MS, Math.max(MIN_WINDOW_MS, duration * 1.1));

interface LsEntry {
  name: string;
  status: string;
}

/** Median wall time of a few uninterrupted runs of `make()`. */
async function medianMs(make: (i: number) => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await make(i);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[1] as number;
}

/** Kill moments spread evenly over [0, window), one per trial, each jittered within its slot. */
function killMoments(window: number): number[] {
  return Array.from({ length: TRIALS }, (_, i) => ((i + Math.random()) / TRIALS) * window);
}

/** Runs `keyhold <args>` and SIGKILLs it `delayMs` after it started. */
async function runAndKill(s: Scratch, args: string[], input: string, delayMs: number) {
  const started = startCli(args, { env: s.env, input });
  const timer = setTimeout(() => started.child.kill("SIGKILL"), delayMs);
  const r = await started.result;
  clearTimeout(timer);
  return r;
}

/** The value of `name` as `keyhold get` prints it, or undefined when it does not exist. */
async function current(s: Scratch, name: string): Promise<string | undefined> {
  const r = await runCli(["get", name], { env: s.env });
  if (r.code === 0) return r.stdout;
  const { code } = firstErrorLine(r.stderr);
  assert.equal(code, "CREDENTIAL_NOT_FOUND", `get ${name} after a kill: ${r.stderr.trim()}`);
  return undefined;
}

function assertListing(entries: LsEntry[], expectedNames: string[]): number {
  const temp = entries.filter((e) => e.status === "leftover-temp");
  const others = entries.filter((e) => e.status !== "leftover-temp");
  assert.deepEqual(
    others.filter((e) => e.status !== "ok").map((e) => `${e.name}: ${e.status}`),
    [],
    "ls shows a damaged credential",
  );
  assert.deepEqual(others.map((e) => e.name).sort(), [...expectedNames].sort());
  return temp.length;
}

describe("kill -9 at a random moment loses nothing", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld("keyhold-crash-");
  });
  after(() => s.cleanup());

  it(`set of a new name: absent or the new value, never damaged (${TRIALS} trials)`, async (t) => {
    const canary = makeCanary("crash-set");
    const duration = await medianMs((i) =>
      runCliOk(["set", `calibrate_${i}`], { env: s.env, input: canary }),
    );
    const window = killWindow(duration);
    const outcomes = { absent: 0, killedAfterCommit: 0, finished: 0, staleLock: 0 };
    const expected = new Map<string, string>();
    for (let i = 0; i < 3; i++) expected.set(`calibrate_${i}`, canary);

    for (const [i, delay] of killMoments(window).entries()) {
      const name = `crash_${i}`;
      const value = `${canary}-${i}`;
      const r = await runAndKill(s, ["set", name], value, delay);
      if (existsSync(join(s.state, "store.lock"))) outcomes.staleLock++;
      const got = await current(s, name);
      if (r.code === 0) {
        outcomes.finished++;
        assert.equal(got, value, `trial ${i}: set finished but get differs`);
      } else if (got === undefined) outcomes.absent++;
      else {
        outcomes.killedAfterCommit++;
        assert.equal(got, value, `trial ${i}: killed at ${delay.toFixed(0)} ms, get returned something else`);
      }
      // The next write of the same name works, whatever the kill left (meta, versions, locks).
      const next = got === undefined ? ["set", name] : ["rotate", name];
      const fixed = `${value}-next`;
      await runCliOk(next, { env: s.env, input: fixed });
      expected.set(name, fixed);
    }
    t.diagnostic(
      `set takes ${duration.toFixed(0)} ms here; kills spread over ${window.toFixed(0)} ms: ` +
        `${outcomes.absent} absent, ${outcomes.killedAfterCommit} committed before the kill, ` +
        `${outcomes.finished} finished, ${outcomes.staleLock} left a stale store lock`,
    );

    const ls = await runCliOk(["ls", "--json"], { env: s.env });
    const temps = assertListing(JSON.parse(ls.stdout) as LsEntry[], [...expected.keys()]);
    t.diagnostic(`${temps} leftover temporary files in the store`);

    // Every credential decrypts to its expected value: one run decrypts them all.
    const names = [...expected.keys()];
    const r = await runCliOk(
      ["run", names.join(","), "--", "sh", "-c", 'cd "$CREDENTIALS_DIRECTORY" && sha256sum -- *'],
      {
        env: s.env,
      },
    );
    const hashes = new Map(
      r.stdout
        .trim()
        .split("\n")
        .map((l) => [l.split(/\s+\*?/)[1] as string, l.split(" ")[0] as string]),
    );
    for (const [name, value] of expected) {
      assert.equal(
        hashes.get(name),
        createHash("sha256").update(value).digest("hex"),
        `${name} decrypts to its value`,
      );
    }
    assert.deepEqual(
      grepTree([s.root], encodingsOf(canary)).map((h) => h.path),
      [],
      "plaintext on disk",
    );
    const verify = await runCli(["audit", "--verify"], { env: s.env });
    assert.equal(verify.code, 0, `audit --verify after the kills: ${verify.stdout}${verify.stderr}`);
  });

  it(`rotate: the old or the new value, never damaged (${TRIALS} trials)`, async (t) => {
    const canary = makeCanary("crash-rotate");
    let value = `${canary}-initial`;
    await runCliOk(["set", "rotated"], { env: s.env, input: value });
    const duration = await medianMs(async (i) => {
      value = `${canary}-calibrate-${i}`;
      await runCliOk(["rotate", "rotated"], { env: s.env, input: value });
    });
    const window = killWindow(duration);
    const outcomes = { old: 0, new: 0, finished: 0, staleLock: 0 };

    for (const [i, delay] of killMoments(window).entries()) {
      const next = `${canary}-${i}`;
      const r = await runAndKill(s, ["rotate", "rotated"], next, delay);
      if (existsSync(join(s.state, "store.lock"))) outcomes.staleLock++;
      const got = await current(s, "rotated");
      assert.ok(
        got === value || got === next,
        `trial ${i}: killed at ${delay.toFixed(0)} ms, got neither value`,
      );
      if (r.code === 0) {
        outcomes.finished++;
        assert.equal(got, next, `trial ${i}: rotate finished but get returned the old value`);
      } else if (got === value) outcomes.old++;
      else outcomes.new++;
      // The next rotate works (a stale lock is broken) and becomes current.
      value = `${canary}-${i}-next`;
      await runCliOk(["rotate", "rotated"], { env: s.env, input: value });
    }
    t.diagnostic(
      `rotate takes ${duration.toFixed(0)} ms here; kills spread over ${window.toFixed(0)} ms: ` +
        `${outcomes.old} old value, ${outcomes.new} new value, ${outcomes.finished} finished, ` +
        `${outcomes.staleLock} left a stale store lock`,
    );
    assert.equal(await current(s, "rotated"), value);
    const history = JSON.parse((await runCliOk(["history", "rotated", "--json"], { env: s.env })).stdout) as {
      current: number;
      versions: { version: number }[];
    };
    const numbers = history.versions.map((v) => v.version);
    assert.equal(history.current, Math.max(...numbers), "the last rotate is current");
    assert.equal(new Set(numbers).size, numbers.length, "no version number twice");
    assert.ok(numbers.length >= TRIALS + 4, "every completed rotate is in the history");
    // An earlier version still decrypts: roll back to the one before, then forward again.
    await runCliOk(["rollback", "rotated"], { env: s.env });
    assert.notEqual(await current(s, "rotated"), value);
    await runCliOk(["rollback", "rotated", "--to", String(history.current)], { env: s.env });
    assert.equal(await current(s, "rotated"), value);

    const ls = JSON.parse((await runCliOk(["ls", "--json"], { env: s.env })).stdout) as LsEntry[];
    assert.equal(ls.find((e) => e.name === "rotated")?.status, "ok");
    assert.deepEqual(
      grepTree([s.root], encodingsOf(canary)).map((h) => h.path),
      [],
      "plaintext on disk",
    );
    const verify = await runCli(["audit", "--verify"], { env: s.env });
    assert.equal(verify.code, 0, `audit --verify after the kills: ${verify.stdout}${verify.stderr}`);
  });

  it("rm: the credential whole or gone, never a damaged file in the store (20 trials)", async (t) => {
    const canary = makeCanary("crash-rm");
    const trials = 20;
    const prepare = async (name: string) => {
      await runCliOk(["set", name], { env: s.env, input: `${canary}-${name}-1` });
      await runCliOk(["rotate", name], { env: s.env, input: `${canary}-${name}-2` });
    };
    await prepare("rm_calibrate");
    const duration = await medianMs(async (i) => {
      if (i > 0) await prepare("rm_calibrate");
      await runCliOk(["rm", "rm_calibrate"], { env: s.env });
    });
    const window = killWindow(duration);
    const present: string[] = [];
    const gone: string[] = [];
    for (let i = 0; i < trials; i++) {
      const name = `rm_${i}`;
      await prepare(name);
      const delay = ((i + Math.random()) / trials) * window;
      await runAndKill(s, ["rm", name], "", delay);
      const got = await current(s, name);
      if (got === undefined) gone.push(name);
      else {
        assert.equal(
          got,
          `${canary}-${name}-2`,
          `trial ${i}: killed at ${delay.toFixed(0)} ms, get returned something else`,
        );
        present.push(name);
      }
    }
    t.diagnostic(`rm takes ${duration.toFixed(0)} ms here; ${present.length} intact, ${gone.length} removed`);
    const ls = JSON.parse((await runCliOk(["ls", "--json"], { env: s.env })).stdout) as LsEntry[];
    const damaged = ls
      .filter((e) => e.name.startsWith("rm_") && e.status !== "ok" && e.status !== "leftover-temp")
      .map((e) => `${e.name}: ${e.status}`);
    assert.deepEqual(damaged, [], "a killed rm left a damaged credential in the store");
    // Whatever the kill left, the next rm or set of the name works.
    for (const name of present) await runCliOk(["rm", name], { env: s.env });
    for (const name of gone) await runCliOk(["set", name], { env: s.env, input: `${canary}-${name}-again` });
    assert.deepEqual(
      grepTree([s.root], encodingsOf(canary)).map((h) => h.path),
      [],
      "plaintext on disk",
    );
  });
});
