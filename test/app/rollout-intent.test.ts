import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { describeIntent, interruptedRollouts } from "../../src/app/rollout.js";
import { resolveLayout } from "../../src/credstore/index.js";
import { makeScratch } from "../support/scratch.js";

/**
 * The intent records of rollouts: a credential's record written before vault secrets could be
 * rotated (no "kind") is still read as the credential's, and a vault secret's record lives under
 * its own file, so a credential and a vault secret of the same spelling never share a record or a
 * lock.
 */

const scratch = makeScratch("keyhold-intent-");
after(() => scratch.cleanup());

const base = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 32);
// A pid that cannot be alive with this start time: the rollout's owner is gone.
const GONE = "999999999.1";

describe("interrupted rollouts", () => {
  it("reads an old credential record and a vault secret's record, each by its own file", () => {
    const l = resolveLayout({ store: scratch.store, state: scratch.state });
    const dir = join(scratch.state, "rollouts");
    mkdirSync(dir, { recursive: true });
    const common = {
      v: 1,
      from: 2,
      to: 3,
      phase: "restarting",
      units: ["a.service"],
      moved: [],
      current: "a.service",
      rollback: true,
      owner: GONE,
      started: "2026-12-01T00:00:00.000Z",
    };
    writeFileSync(join(dir, `${base("api_key")}.json`), JSON.stringify({ ...common, name: "api_key" }));
    writeFileSync(
      join(dir, `${base("vault:app/api_key")}.json`),
      JSON.stringify({ ...common, kind: "vault", name: "app/api_key" }),
    );
    writeFileSync(
      join(dir, `${base("x")}.json`),
      JSON.stringify({ ...common, kind: "something-else", name: "x" }),
    );
    const found = interruptedRollouts(l).map(describeIntent).sort();
    assert.deepEqual(found, [
      "a rotation of api_key to version 3 was interrupted while restarting units (at a.service): 0 of 1 moved",
      "a rotation of vault secret app/api_key to version 3 was interrupted while restarting units (at a.service): 0 of 1 moved",
    ]);
  });
});
