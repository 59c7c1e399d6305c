/**
 * `rotate NAME --from-command CMD`: the new value is CMD's stdout, carried by a pipe only (never
 * argv, the environment, output, the audit log or a file), and a command that fails, prints
 * nothing, prints too much or cannot be trusted changes nothing.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { firstErrorLine, initWorld, runCli, runCliOk } from "../support/cli.js";
import { startProcSampler } from "../support/proc-sampler.js";
import { makeCanary, type Scratch } from "../support/scratch.js";

function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allFiles(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
  );
}

describe("rotate --from-command", () => {
  let s: Scratch;
  const first = makeCanary("first");
  before(async () => {
    s = await initWorld("keyhold-fromcmd-");
    await runCliOk(["set", "minted_key"], { env: s.env, input: first });
  });
  after(() => s.cleanup());

  const current = async () => (await runCliOk(["get", "minted_key"], { env: s.env })).stdout;
  const version = async () =>
    JSON.parse((await runCliOk(["history", "minted_key", "--json"], { env: s.env })).stdout)
      .current as number;

  it("stores the command's stdout (final newline dropped) and the value is nowhere else", async () => {
    const next = makeCanary("minted");
    // The command's source: a file only it reads (a provider's CLI would mint the key itself).
    const source = join(s.root, "provider-output");
    writeFileSync(source, `${next}\n`, { mode: 0o600 });
    const sampler = await startProcSampler([next], ["keyhold.js"]);
    let r: Awaited<ReturnType<typeof runCli>>;
    try {
      r = await runCli(["rotate", "minted_key", "--from-command", `/bin/cat ${source}`], { env: s.env });
    } finally {
      const report = await sampler.stop();
      assert.deepEqual(report.hits, [], "the value in a process's argv or environment");
    }
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^rotated minted_key \(version 2, \d+ bytes\)$/m);
    assert.equal(await current(), next);
    for (const text of [r.stdout, r.stderr]) assert.equal(text.includes(next), false);
    for (const f of [...allFiles(s.state), ...allFiles(s.store)])
      assert.equal(readFileSync(f).includes(next), false, `plaintext in ${f}`);
  });

  const refusals: { what: string; command: (s: Scratch) => string; code: string }[] = [
    {
      what: "a command that fails",
      command: () => "/bin/sh -c 'echo half-a-key; exit 3'",
      code: "COMMAND_FAILED",
    },
    {
      what: "a command killed by a signal",
      command: () => "/bin/sh -c 'kill -9 $$'",
      code: "COMMAND_FAILED",
    },
    { what: "a command that prints nothing", command: () => "/bin/true", code: "EMPTY_VALUE" },
    {
      what: "a command that prints more than a credential may hold",
      command: () => "/usr/bin/head -c 4000000 /dev/zero",
      code: "TOO_LARGE",
    },
    {
      what: "a command that does not exist",
      command: (w) => `${w.root}/no-such-program`,
      code: "COMMAND_FAILED",
    },
    { what: "a program found through PATH", command: () => "cat /etc/hostname", code: "USAGE" },
  ];
  for (const { what, command, code } of refusals) {
    it(`${what}: refused with ${code}, nothing changes`, async () => {
      const before = { value: await current(), version: await version() };
      const storeFile = join(s.store, "minted_key");
      const mtime = statSync(storeFile).mtimeMs;
      const r = await runCli(["rotate", "minted_key", "--from-command", command(s)], { env: s.env });
      assert.notEqual(r.code, 0);
      assert.equal(firstErrorLine(r.stderr).code, code, r.stderr);
      assert.equal(await current(), before.value);
      assert.equal(await version(), before.version);
      assert.equal(statSync(storeFile).mtimeMs, mtime, "the store file was not rewritten");
    });
  }

  it("a pipe in the command line is an argument of the program, not a shell pipe", async () => {
    const r = await runCliOk(["rotate", "minted_key", "--from-command", "/bin/echo a | /bin/cat"], {
      env: s.env,
    });
    assert.match(r.stdout, /rotated minted_key/);
    assert.equal(await current(), "a | /bin/cat");
  });

  it("a word that looks like a key is refused without repeating it", async () => {
    const key = makeCanary("inargv");
    const r = await runCli(["rotate", "minted_key", "--from-command", `/usr/bin/mint --seed ${key}`], {
      env: s.env,
    });
    assert.equal(firstErrorLine(r.stderr).code, "SECRET_IN_COMMAND");
    assert.equal(r.stderr.includes(key), false);
  });
});
