/**
 * Entries planted in the store that are not regular files: ls and doctor must not hang on them,
 * and must report them (systemd's LoadCredentialEncrypted= opens a store path through a link).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lstatSync, mkdirSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { initWorld, runCli, runCliOk } from "../support/cli.js";
import type { Scratch } from "../support/scratch.js";

describe("store entries that are not regular files", () => {
  let s: Scratch;
  const planted = ["fifo", "zero", "loop1", "adir"];

  before(async () => {
    s = await initWorld("keyhold-attack-entries-");
    await runCliOk(["set", "good"], { env: s.env, input: "v" });
    const store = s.env.KEYHOLD_STORE as string;
    execFileSync("mkfifo", [join(store, "fifo")]);
    symlinkSync("/dev/zero", join(store, "zero"));
    symlinkSync("loop2", join(store, "loop1"));
    symlinkSync("loop1", join(store, "loop2"));
    mkdirSync(join(store, "adir"));
    writeFileSync(join(store, "sparse"), "");
    truncateSync(join(store, "sparse"), 2 ** 40);
  });
  after(() => s.cleanup());

  it("ls and doctor finish and report the huge sparse file", async () => {
    const ls = await runCliOk(["ls", "--json"], { env: s.env, timeoutMs: 30_000 });
    const rows = JSON.parse(ls.stdout) as { name: string; status: string }[];
    assert.equal(rows.find((r) => r.name === "sparse")?.status, "too-large");
    assert.equal(rows.find((r) => r.name === "good")?.status, "ok");
    const doctor = await runCli(["doctor"], { env: s.env, timeoutMs: 30_000 });
    assert.equal(doctor.code, 3);
    assert.match(doctor.stdout, /too-large: .*sparse/);
  });

  it("ls and doctor report a FIFO, a link to /dev/zero, a link loop and a directory", async () => {
    const ls = await runCliOk(["ls", "--json"], { env: s.env, timeoutMs: 30_000 });
    const names = (JSON.parse(ls.stdout) as { name: string }[]).map((r) => r.name);
    const doctor = await runCli(["doctor"], { env: s.env, timeoutMs: 30_000 });
    for (const p of planted) {
      assert.ok(names.includes(p), `ls does not show ${p}`);
      assert.ok(
        doctor.stdout.includes(join(s.env.KEYHOLD_STORE as string, p)),
        `doctor does not report ${p}`,
      );
    }
    const statuses = Object.fromEntries(
      (JSON.parse(ls.stdout) as { name: string; status: string }[]).map((r) => [r.name, r.status]),
    );
    assert.deepEqual(
      [...planted, "loop2"].map((p) => statuses[p]),
      ["not-a-file", "symlink", "symlink", "not-a-file", "symlink"],
    );
    assert.equal(doctor.code, 3);
  });

  it("doctor --fix reports them and leaves them as they are: nothing followed, nothing removed", async () => {
    const store = s.env.KEYHOLD_STORE as string;
    const fixed = await runCli(["doctor", "--fix"], { env: s.env, timeoutMs: 30_000 });
    assert.match(fixed.stdout, /symlink: .*zero/);
    assert.match(fixed.stdout, /not-a-file: .*fifo/);
    for (const p of [...planted, "loop2"]) assert.ok(lstatSync(join(store, p)), `${p} was removed`);
    assert.equal(lstatSync("/dev/zero").mode & 0o777, 0o666, "/dev/zero's mode was changed through the link");
  });
});
