/**
 * `doctor --fix` racing a `rotate --restart`: doctor lists a rollout whose keyhold is gone, and
 * before it takes that rollout's lock another keyhold (a `rotate NAME --restart` finishing it
 * first) holds it. That one rollout is left to its holder; doctor must still finish the others,
 * report the rest of its findings and not fail as a whole.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { acquireLock } from "../../src/durable/index.js";
import { initWorld, runCli, runCliOk } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";

const base = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 32);
// A pid that cannot be alive with this start time: the rollouts' owner is gone.
const GONE = "999999999.1";

describe("doctor --fix while another keyhold holds a rollout's lock", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld("keyhold-attack-rollout-");
    for (const name of ["busy_key", "idle_key"])
      await runCliOk(["set", name], { env: s.env, input: makeCanary(name) });
  });
  after(() => s.cleanup());

  it("finishes the rollouts it can lock and reports the locked one, without failing", async () => {
    const dir = join(s.state, "rollouts");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const intent = (name: string) => ({
      v: 1,
      name,
      from: 1,
      to: null,
      phase: "writing",
      units: [],
      moved: [],
      current: null,
      rollback: true,
      owner: GONE,
      started: "2026-12-01T00:00:00.000Z",
    });
    for (const name of ["busy_key", "idle_key"])
      writeFileSync(join(dir, `${base(name)}.json`), JSON.stringify(intent(name)), { mode: 0o600 });
    // Another keyhold is finishing busy_key's rollout: it holds its lock (and is alive).
    const lock = await acquireLock(join(dir, `${base("busy_key")}.lock`), 2_000);
    let r: Awaited<ReturnType<typeof runCli>>;
    try {
      r = await runCli(["doctor", "--fix", "--json"], { env: s.env });
    } finally {
      lock.release();
    }
    assert.doesNotMatch(r.stderr, /ROLLOUT_IN_PROGRESS/, "doctor --fix failed as a whole");
    const out = JSON.parse(r.stdout) as {
      findings: { kind: string; subject: string; fixed?: string; advice?: string }[];
    };
    const of = (name: string) => out.findings.find((f) => f.kind === "rollout-interrupted" && f.subject === name);
    assert.match(of("idle_key")?.fixed ?? "", /never became current/);
    assert.equal(existsSync(join(dir, `${base("idle_key")}.json`)), false);
    assert.equal(of("busy_key")?.fixed, undefined);
    assert.match(of("busy_key")?.advice ?? "", /another keyhold is rotating busy_key/);
    assert.equal(existsSync(join(dir, `${base("busy_key")}.json`)), true, "the locked rollout was left as it is");
  });
});
