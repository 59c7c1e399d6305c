/**
 * Races around `rotate --restart`'s rollout engine.
 *
 * - `doctor --fix` racing a `rotate --restart`: doctor lists a rollout whose keyhold is gone, and
 *   before it takes that rollout's lock another keyhold (a `rotate NAME --restart` finishing it
 *   first) holds it. That one rollout is left to its holder; doctor must still finish the others,
 *   report the rest of its findings and not fail as a whole.
 * - Another writer during a rollout (a plain `rotate`, or for a vault secret another host sharing
 *   the vault): when a unit then fails, the rollback must not throw away the version that writer
 *   made current by making the rollout's starting version current again.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CredentialStore } from "../../src/app/credentials.js";
import { credentialSubject, rollOut } from "../../src/app/rollout.js";
import { readMeta } from "../../src/credstore/index.js";
import { acquireLock } from "../../src/durable/index.js";
import { Secret } from "../../src/secret/index.js";
import { initWorld, KEYHOLD_BIN, runCli, runCliOk } from "../support/cli.js";
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
    const of = (name: string) =>
      out.findings.find((f) => f.kind === "rollout-interrupted" && f.subject === name);
    assert.match(of("idle_key")?.fixed ?? "", /never became current/);
    assert.equal(existsSync(join(dir, `${base("idle_key")}.json`)), false);
    assert.equal(of("busy_key")?.fixed, undefined);
    assert.match(of("busy_key")?.advice ?? "", /another keyhold is rotating busy_key/);
    assert.equal(
      existsSync(join(dir, `${base("busy_key")}.json`)),
      true,
      "the locked rollout was left as it is",
    );
  });
});

/** Writes stdin as a new version of shared_key with the store's own write, which takes no rollout lock. */
const OTHER_WRITER = `
import { readFileSync } from "node:fs";
import { CredentialStore } from ${JSON.stringify(new URL("../../src/app/credentials.js", import.meta.url).href)};
import { writeVersion } from ${JSON.stringify(new URL("../../src/credstore/store.js", import.meta.url).href)};
import { Secret } from ${JSON.stringify(new URL("../../src/secret/index.js", import.meta.url).href)};
const layout = CredentialStore.open({ env: process.env }).layout;
await writeVersion(layout, "shared_key", Secret.fromString(readFileSync(0, "utf8")), { origin: "rotate", mustExist: true });
`;

describe("another writer while rotate --restart moves a unit that then fails", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld("keyhold-attack-rollback-");
    await runCliOk(["set", "shared_key"], { env: s.env, input: makeCanary("v1") });
  });
  after(() => s.cleanup());

  it("the rollback leaves the other writer's version current", async () => {
    const store = CredentialStore.open({ env: s.env });
    const theirs = makeCanary("theirs");
    // No systemd here: `systemctl restart` of this unit fails for real, as a unit refusing the new
    // value would. The units are named rather than found in unit files for the same reason.
    const subject = {
      ...credentialSubject(store, "shared_key"),
      runningUsers: async () => ["keyhold-attack-absent.service"],
    };
    let wrote = false;
    let refused: ReturnType<typeof spawnSync> | undefined;
    const report = (line: string) => {
      if (wrote || !line.startsWith("restarting ")) return;
      wrote = true;
      // A plain rotate meanwhile is refused: it takes the credential's rollout lock.
      refused = spawnSync(process.execPath, [KEYHOLD_BIN, "rotate", "shared_key"], {
        env: s.env,
        input: makeCanary("refused"),
        encoding: "utf8",
      });
      // A writer the lock does not cover (another host sharing a vault, an older keyhold) writes
      // version 3 while the unit restarts: the store's own write, below the lock.
      execFileSync(process.execPath, ["--input-type=module", "-e", OTHER_WRITER], { env: s.env, input: theirs });
    };
    const { result } = await rollOut(
      store.layout,
      subject,
      async () => (await store.rotate("shared_key", Secret.fromString(makeCanary("ours")))).version,
      { settleMs: 0, timeoutMs: 10_000, rollback: true, report },
    );
    assert.equal(wrote, true);
    assert.notEqual(refused?.status, 0);
    assert.match(String(refused?.stderr), /\[ROLLOUT_IN_PROGRESS\]/);
    assert.equal(result.failed?.unit, "keyhold-attack-absent.service");
    assert.equal(readMeta(store.layout, "shared_key")?.current, 3, "the other writer's version was undone");
    assert.equal((await runCliOk(["get", "shared_key"], { env: s.env })).stdout, theirs);
    assert.equal(result.current, 3);
  });
});
