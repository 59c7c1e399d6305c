import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  acquireLock,
  parseProcessTag,
  processAlive,
  processStartTime,
  processTag,
} from "../../src/durable/index.js";
import { isSecretError } from "../../src/secret/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";

/**
 * Process identity for lock files, temporary names and `run` directories that outlive their
 * process: pid plus start time, so a pid reused by a later process is not mistaken for the owner.
 */

function deadPid(): number {
  const r = spawnSync("/bin/true");
  return r.pid as number;
}

describe("process identity", () => {
  it("names this process by pid and start time, and parses it back", () => {
    const started = processStartTime(process.pid);
    assert.match(started ?? "", /^[0-9]+$/);
    assert.equal(processTag(), `${process.pid}.${started}`);
    assert.deepEqual(parseProcessTag(processTag()), { pid: process.pid, started });
    assert.deepEqual(parseProcessTag("4242"), { pid: 4242 });
    for (const bad of ["", "0", "-1", "1.2.3", "abc", "12.x", " 12", "12 "])
      assert.equal(parseProcessTag(bad), undefined, JSON.stringify(bad));
  });

  it("a live pid with another start time is another process", () => {
    const started = processStartTime(process.pid) as string;
    assert.equal(processAlive(process.pid, started), true);
    assert.equal(processAlive(process.pid, String(BigInt(started) + 1n)), false);
    assert.equal(processAlive(process.pid), true, "without a start time, the pid alone decides");
    const dead = deadPid();
    assert.equal(processStartTime(dead), undefined);
    assert.equal(processAlive(dead), false);
  });
});

describe("a lock whose owner's pid was reused", () => {
  let scratch: Scratch;
  before(() => {
    scratch = makeScratch("keyhold-lock-");
  });
  after(() => scratch.cleanup());

  it("is broken as stale; a lock of the live owner is not", async () => {
    const path = join(scratch.root, "reused.lock");
    const started = processStartTime(process.pid) as string;
    writeFileSync(path, `${process.pid}.${BigInt(started) + 1n} 00ff00ff00ff00ff00ff00ff\n`);
    const lock = await acquireLock(path, 3_000);
    assert.match(readFileSync(path, "utf8"), new RegExp(`^${process.pid}\\.${started} [0-9a-f]{24}\\n$`));
    lock.release();

    const held = join(scratch.root, "held.lock");
    writeFileSync(held, `${process.pid}.${started} 00ff00ff00ff00ff00ff00ff\n`);
    await assert.rejects(acquireLock(held, 300), (err) => isSecretError(err, "LOCK_TIMEOUT"));
  });
});
