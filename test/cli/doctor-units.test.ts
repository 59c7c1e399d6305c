import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { initWorld, runCli } from "../support/cli.js";
import type { Scratch } from "../support/scratch.js";

/**
 * `doctor --units DIR` reads every unit file and drop-in there (a top-level service.d/ and a prefix
 * foo-.service.d/ included) for credentials that do not exist; what a unit directory may hold
 * besides files (a FIFO, a link to /dev/zero) is skipped within the same bounds as `status`, not
 * read until it blocks or fills memory.
 */

let s: Scratch;
before(async () => {
  s = await initWorld("keyhold-doctor-units-");
});
after(() => s?.cleanup());

describe("doctor reading unit directories", () => {
  it("finds missing credentials in top-level and prefix drop-ins, and does not block on a FIFO or read /dev/zero", async () => {
    const dir = join(s.root, "units");
    mkdirSync(join(dir, "service.d"), { recursive: true });
    mkdirSync(join(dir, "app-.service.d"));
    writeFileSync(join(dir, "service.d", "50-all.conf"), "[Service]\nLoadCredentialEncrypted=absent_all\n");
    writeFileSync(
      join(dir, "app-.service.d", "50-app.conf"),
      "[Service]\nLoadCredentialEncrypted=absent_app\n",
    );
    execFileSync("mkfifo", [join(dir, "fifo.service")]);
    execFileSync("mkfifo", [join(dir, "service.d", "20-fifo.conf")]);
    symlinkSync("/dev/zero", join(dir, "zero.service"));
    const r = await runCli(["doctor", "--units", dir], { env: s.env, timeoutMs: 120_000 });
    assert.equal(r.signal, null, "doctor did not finish");
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stdout,
      /FOUND {2}unit-missing-credential: .*service\.d\/50-all\.conf loads credential absent_all/,
    );
    assert.match(
      r.stdout,
      /FOUND {2}unit-missing-credential: .*app-\.service\.d\/50-app\.conf loads credential absent_app/,
    );
  });
});
