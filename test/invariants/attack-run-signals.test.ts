/**
 * `keyhold run --user`: a signal that a terminal sends as easily as ^C (^\, SIGQUIT) reaching root's
 * keyhold must not leave the values on a mounted ramfs after the run.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { initWorld, runCliOk, startCli } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";
import { createTestUser, type TestUser } from "../support/users.js";

function mounted(dir: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === dir);
}

describe("keyhold run --user and SIGQUIT", () => {
  let s: Scratch;
  let user: TestUser;
  const value = makeCanary("quit");

  before(async () => {
    s = await initWorld("keyhold-attack-quit-");
    await runCliOk(["set", "api_key"], { env: s.env, input: value });
    user = createTestUser("quit");
  });
  after(() => {
    s.cleanup();
    user.remove();
  });

  it("removes the directory when keyhold receives SIGQUIT", async () => {
    // root's runs make their directories in the ramfs kept mounted there (src/credstore/run.ts);
    // a --user run's holds a read-only ramfs of its own, at credentials/ inside it
    const parent = "/run/keyhold/ramfs";
    const before = new Set(existsSync(parent) ? readdirSync(parent) : []);
    const run = startCli(["run", "--user", user.name, "api_key", "--", "sleep", "3"], { env: s.env });
    let dir: string | undefined;
    for (let i = 0; i < 200 && dir === undefined; i++) {
      await sleep(50);
      dir = (existsSync(parent) ? readdirSync(parent) : [])
        .filter((e) => e.startsWith("credentials-") && !before.has(e))
        .map((e) => join(parent, e))
        .find((p) => existsSync(join(p, "credentials", "api_key")));
    }
    assert.ok(dir, "the run made its directory");
    const mount = join(dir, "credentials");
    assert.equal(mounted(mount), true, "the run mounted its ramfs");
    run.child.kill("SIGQUIT");
    await run.exit;
    try {
      assert.equal(mounted(mount), false, "the ramfs is still mounted after keyhold died");
      assert.equal(existsSync(dir), false, "the directory is still there");
    } finally {
      if (mounted(mount)) execFileSync("umount", ["--lazy", mount]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
