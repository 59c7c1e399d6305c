/**
 * No plaintext on disk, no value in argv, environment or output for what keyhold prints and leaves behind:
 * - stdout and stderr of every command but `get` (successful or failing, text or --json) never
 *   hold the value, in any common encoding;
 * - afterwards the audit log, the state directory, the store (ciphertext only: every file is a
 *   systemd credential), os.tmpdir(), /var/tmp, /dev/shm and /run/keyhold hold no plaintext.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readCredentialHeader } from "../../src/systemd/index.js";
import { type CliResult, initWorld, runCli } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";
import { encodingsOf, grepTree } from "../support/tree.js";

interface Step {
  args: string[];
  input?: string | Buffer;
  /** Acceptable exit codes. */
  exit: readonly number[];
  /** `get` may print the value on stdout (that is its job); its stderr may not. */
  stdoutMayHoldValue?: boolean;
}

/** Runs each step and returns the ones whose output held a form of `value`, or whose exit was unexpected. */
async function runSteps(
  s: Scratch,
  value: string,
  steps: Step[],
): Promise<{ leaks: string[]; exits: string[] }> {
  const forms = encodingsOf(value);
  const leaks: string[] = [];
  const exits: string[] = [];
  for (const step of steps) {
    const r: CliResult = await runCli(step.args, {
      env: s.env,
      ...(step.input === undefined ? {} : { input: step.input }),
    });
    if (!step.exit.includes(r.code ?? -1))
      exits.push(`keyhold ${step.args.join(" ")}: exit ${r.code}: ${r.stderr.trim()}`);
    for (const form of forms) {
      if (!step.stdoutMayHoldValue && r.stdout.includes(form))
        leaks.push(`stdout of keyhold ${step.args.join(" ")}`);
      if (r.stderr.includes(form)) leaks.push(`stderr of keyhold ${step.args.join(" ")}`);
    }
  }
  return { leaks: [...new Set(leaks)], exits };
}

/** A credential encrypted outside keyhold under another embedded name (encrypted without --name). */
function plantMismatch(s: Scratch, file: string, embedded: string, value: string): void {
  const path = join(s.store, file);
  const r = spawnSync("systemd-creds", ["encrypt", `--name=${embedded}`, "--with-key=host", "-", path], {
    env: s.env,
    input: value,
  });
  assert.equal(r.status, 0, r.stderr.toString());
  chmodSync(path, 0o600);
}

/** Every command and option, successful and failing, with `value` as the stored value. */
function everyCommand(s: Scratch, value: string): Step[] {
  const plain = join(s.root, "plain.txt");
  const dotenv = join(s.root, "app.env");
  const badEnv = join(s.root, "bad.env");
  const conflictEnv = join(s.root, "conflict.env");
  const taken = join(s.root, "taken.txt");
  writeFileSync(plain, `${value}-imported\n`, { mode: 0o600 });
  writeFileSync(dotenv, `APP_TOKEN=${value}-env\nexport APP_OTHER="${value}-other"\n`, { mode: 0o600 });
  writeFileSync(conflictEnv, `APP_TOKEN=${value}-changed\n`, { mode: 0o600 });
  writeFileSync(badEnv, `GOOD=1\nthis line holds ${value} and no equals sign\n`, { mode: 0o600 });
  writeFileSync(taken, value, { mode: 0o600 });
  plantMismatch(s, "my_api_key", "MY_API_KEY", `${value}-mismatch`);
  // A plaintext file someone left in the store: ls and doctor report it without showing it.
  writeFileSync(join(s.store, "plain_key"), `${value}-plain\n`, { mode: 0o600 });
  const ok = [0];
  const failed = [1];
  const usage = [2];
  const findings = [0, 3];
  return [
    { args: ["set", "api_key"], input: value, exit: ok },
    { args: ["set", "short_lived", "--not-after=+30d"], input: `${value}-short`, exit: ok },
    { args: ["ls"], exit: ok },
    { args: ["ls", "--json"], exit: ok },
    { args: ["ls", "--check"], exit: ok },
    { args: ["ls", "--check", "--json"], exit: ok },
    { args: ["rotate", "api_key"], input: `${value}-v2`, exit: ok },
    { args: ["rotate", "api_key"], input: `${value}-v3`, exit: ok },
    { args: ["history", "api_key"], exit: ok },
    { args: ["history", "api_key", "--json"], exit: ok },
    { args: ["rollback", "api_key"], exit: ok },
    { args: ["rollback", "api_key", "--to", "3"], exit: ok },
    { args: ["get", "api_key"], exit: ok, stdoutMayHoldValue: true },
    { args: ["get", "api_key", "--reveal"], exit: ok, stdoutMayHoldValue: true },
    { args: ["run", "api_key", "--", "true"], exit: ok },
    { args: ["run", "api_key,short_lived", "--file-vars", "--", "sh", "-c", "exit 3"], exit: [3] },
    { args: ["import", "imported", plain], exit: ok },
    { args: ["import-env", dotenv, "--json"], exit: ok },
    { args: ["doctor", "--units", s.root], exit: findings },
    { args: ["doctor", "--json", "--units", s.root], exit: findings },
    // doctor's advice for the plaintext file: encrypt it under a new name, shredding the original.
    { args: ["import", "plain_key.new", join(s.store, "plain_key"), "--shred"], exit: ok },
    // Failing commands, most with the value in their input.
    { args: ["set", "api_key"], input: value, exit: failed },
    { args: ["rotate", "missing_one"], input: value, exit: failed },
    { args: ["set", "too_big"], input: Buffer.alloc(2 * 1024 * 1024, `${value}|`), exit: failed },
    { args: ["set", "bad:name"], input: value, exit: failed },
    { args: ["set", "with_option", "--bogus"], input: value, exit: usage },
    { args: ["import", "api_key", taken], exit: failed },
    { args: ["import-env", badEnv], exit: failed },
    { args: ["import-env", dotenv], exit: ok }, // the same values again: already stored
    { args: ["import-env", conflictEnv], exit: failed },
    { args: ["get", "my_api_key"], exit: failed, stdoutMayHoldValue: true },
    { args: ["run", "api_key", "--", "/nonexistent/command"], exit: [1, 2, 127] },
    { args: ["run", "my_api_key", "--", "true"], exit: failed },
    { args: ["rollback", "api_key", "--to", "99"], exit: failed },
    { args: ["history", "my_api_key"], exit: failed },
    { args: ["rm", "imported"], exit: ok },
    { args: ["rm", "imported"], exit: failed },
    // Last: --fix re-encrypts the mismatched credential the failing steps above needed.
    { args: ["doctor", "--fix", "--json", "--units", s.root], exit: findings },
    { args: ["audit"], exit: ok },
    { args: ["audit", "--json"], exit: ok },
    { args: ["audit", "--verify"], exit: ok },
    { args: ["audit", "--verify", "--json"], exit: ok },
  ];
}

describe("no value in output or on disk", () => {
  let s: Scratch;
  let started: number;
  before(async () => {
    started = Date.now() - 1000;
    s = await initWorld("keyhold-leak-");
  });
  after(() => s.cleanup());

  it("stdout and stderr of every command but get never hold the value", async () => {
    const value = makeCanary("output");
    const { leaks, exits } = await runSteps(s, value, everyCommand(s, value));
    assert.deepEqual(exits, [], "a command exited with an unexpected code");
    assert.deepEqual(leaks, [], "the value was printed");
  });

  it("the audit log, the state and store directories and the temp directories hold no plaintext", async () => {
    const value = makeCanary("disk");
    const world = await initWorld("keyhold-leak-disk-");
    try {
      const { exits } = await runSteps(world, value, everyCommand(world, value));
      assert.deepEqual(exits, [], "a command exited with an unexpected code");
      // The plaintext inputs were the test's own; take them away, then nothing may remain.
      for (const f of ["plain.txt", "app.env", "bad.env", "conflict.env", "taken.txt"]) {
        const path = join(world.root, f);
        if (existsSync(path)) writeFileSync(path, "");
      }
      const forms = encodingsOf(value);

      const audit = readFileSync(join(world.state, "audit.log"), "utf8");
      assert.ok(audit.split("\n").length > 15, "the audit log recorded the commands");
      for (const form of forms) assert.ok(!audit.includes(form), "the audit log holds the value");

      const hits = grepTree([world.root], forms);
      assert.deepEqual(
        hits.map((h) => h.path),
        [],
        "a file in the store, state or scratch directory holds the value",
      );

      // The store holds nothing but systemd credentials (ciphertext with a known key header).
      for (const entry of readdirSync(world.store)) {
        const path = join(world.store, entry);
        assert.ok(lstatSync(path).isFile(), `${entry} is a regular file`);
        assert.doesNotThrow(() => readCredentialHeader(readFileSync(path)), `${entry} is not a credential`);
      }

      const temp = [tmpdir(), "/var/tmp", "/dev/shm", "/run/keyhold"].filter((d) => existsSync(d));
      const tempHits = grepTree(temp, forms, { modifiedSince: started });
      assert.deepEqual(
        tempHits.map((h) => h.path),
        [],
        "a temporary file holds the value",
      );
    } finally {
      world.cleanup();
    }
  });
});
