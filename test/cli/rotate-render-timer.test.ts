/**
 * `rotate NAME --render-timer --every SPAN --from-command CMD`: the units go to stdout or to
 * --write-dir exactly as rendered, and every bad input is a coded error that writes nothing; and
 * `rotate --if-older-than SPAN`, the check the timer's service runs, leaves a young version alone
 * without running CMD.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { thisKeyhold } from "../../src/app/rotation-timer.js";
import { AUDIT_KEY_NAME } from "../../src/audit/key.js";
import { renderCredentialRotationTimer } from "../../src/units/index.js";
import { firstErrorLine, initWorld, runCli, runCliOk } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";

const NAME = "minted_key";
const CMD = "/usr/local/bin/mint-key --service billing";
/** Named, so the rendering does not depend on where this checkout sits (a clone under /tmp is refused). */
const EXEC = "/usr/local/bin/keyhold";

describe("rotate --render-timer", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld("keyhold-rendertimer-");
    await runCliOk(["set", NAME], { env: s.env, input: makeCanary("first") });
  });
  after(() => s.cleanup());

  const expected = (restart?: { settleS?: number; timeoutS?: number; rollback: boolean }) =>
    renderCredentialRotationTimer({
      exec: EXEC,
      store: s.store,
      state: s.state,
      name: NAME,
      every: "30d",
      command: CMD,
      ...(restart === undefined ? {} : { restart }),
    });

  it("prints the service and the timer, with the --restart options passed on", async () => {
    const plain = await runCliOk(
      ["rotate", NAME, "--render-timer", "--every", "30d", "--from-command", CMD, "--exec", EXEC],
      {
        env: s.env,
      },
    );
    assert.equal(
      plain.stdout,
      expected()
        .map((f) => f.content)
        .join("\n"),
    );
    const restart = await runCliOk(
      [
        "rotate",
        NAME,
        "--render-timer",
        "--every",
        "30d",
        "--from-command",
        CMD,
        "--restart",
        "--settle",
        "3",
        "--timeout",
        "60",
        "--no-rollback",
        "--exec",
        EXEC,
      ],
      { env: s.env },
    );
    assert.equal(
      restart.stdout,
      expected({ settleS: 3, timeoutS: 60, rollback: false })
        .map((f) => f.content)
        .join("\n"),
    );
    assert.match(
      restart.stdout,
      /--if-older-than 30d --restart --settle 3 --timeout 60 --no-rollback -- minted_key\n/,
    );
  });

  it("without --exec, runs this keyhold by its real paths, unless the sandbox would hide them", async () => {
    const r = await runCli(["rotate", NAME, "--render-timer", "--every", "30d", "--from-command", CMD], {
      env: s.env,
    });
    if (/(^|\s)\/(var\/)?tmp\//.test(thisKeyhold())) {
      // A checkout under /tmp: PrivateTmp= would hide it from the service.
      assert.equal(r.code, 2);
      assert.equal(firstErrorLine(r.stderr).code, "USAGE");
      return;
    }
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`ExecStart=${thisKeyhold()} `), r.stdout);
  });

  it("--write-dir writes both units (0644) and says so", async () => {
    const dir = join(s.root, "units-ok");
    mkdirSync(dir);
    const r = await runCliOk(
      ["rotate", NAME, "--render-timer", "--every", "30d", "--from-command", CMD, "--exec", EXEC, "--write-dir", dir],
      { env: s.env },
    );
    assert.equal(
      r.stdout,
      `wrote keyhold-rotate-minted_key.service and keyhold-rotate-minted_key.timer to ${dir}\n`,
    );
    for (const f of expected()) {
      assert.equal(readFileSync(join(dir, f.path), "utf8"), f.content);
      assert.equal(statSync(join(dir, f.path)).mode & 0o777, 0o644);
    }
  });

  const refusals: { what: string; args: () => string[]; code: string }[] = [
    {
      what: "--every without --render-timer",
      args: () => [NAME, "--every", "30d", "--from-command", CMD],
      code: "USAGE",
    },
    { what: "--write-dir without --render-timer", args: () => [NAME, "--write-dir", s.root], code: "USAGE" },
    {
      what: "--exec without --render-timer",
      args: () => [NAME, "--exec", "/usr/bin/keyhold"],
      code: "USAGE",
    },
    {
      what: "--render-timer without --from-command",
      args: () => [NAME, "--render-timer", "--every", "30d"],
      code: "USAGE",
    },
    {
      what: "--render-timer without --every",
      args: () => [NAME, "--render-timer", "--from-command", CMD],
      code: "USAGE",
    },
    ...["30", "30x", "1 d", "5min", "11y", "+30d", "30d\nOnCalendar=minutely"].map((every) => ({
      what: `--every ${JSON.stringify(every)}`,
      args: () => [NAME, "--render-timer", "--every", every, "--from-command", CMD],
      code: "USAGE",
    })),
    {
      what: "an unknown credential",
      args: () => ["no_such_key", "--render-timer", "--every", "30d", "--from-command", CMD],
      code: "CREDENTIAL_NOT_FOUND",
    },
    {
      what: "keyhold's own credential",
      args: () => [AUDIT_KEY_NAME, "--render-timer", "--every", "30d", "--from-command", CMD],
      code: "RESERVED_NAME",
    },
    {
      what: "an invalid name",
      args: () => ["a/b", "--render-timer", "--every", "30d", "--from-command", CMD],
      code: "INVALID_NAME",
    },
    {
      what: "a CMD found through PATH",
      args: () => [NAME, "--render-timer", "--every", "30d", "--from-command", "mint-key"],
      code: "USAGE",
    },
    {
      what: "a CMD holding a key",
      args: () => [
        NAME,
        "--render-timer",
        "--every",
        "30d",
        "--from-command",
        `/usr/bin/mint ${makeCanary("cmd")}`,
      ],
      code: "SECRET_IN_COMMAND",
    },
    {
      what: "--if-older-than with --render-timer",
      args: () => [NAME, "--render-timer", "--every", "30d", "--from-command", CMD, "--if-older-than", "30d"],
      code: "USAGE",
    },
    {
      what: "a fixed --not-after with --render-timer",
      args: () => [
        NAME,
        "--render-timer",
        "--every",
        "30d",
        "--from-command",
        CMD,
        "--not-after",
        "2099-01-01",
      ],
      code: "USAGE",
    },
    {
      what: "--settle without --restart",
      args: () => [NAME, "--render-timer", "--every", "30d", "--from-command", CMD, "--settle", "5"],
      code: "USAGE",
    },
    {
      what: "a relative --exec",
      args: () => [NAME, "--render-timer", "--every", "30d", "--from-command", CMD, "--exec", "keyhold"],
      code: "USAGE",
    },
  ];
  for (const { what, args, code } of refusals) {
    it(`${what}: ${code}, nothing written`, async () => {
      const dir = join(s.root, `units-${Math.random().toString(36).slice(2)}`);
      mkdirSync(dir);
      const all = args();
      const r = await runCli(
        ["rotate", ...all, ...(all.includes("--write-dir") ? [] : ["--write-dir", dir])],
        {
          env: s.env,
        },
      );
      assert.notEqual(r.code, 0);
      assert.equal(firstErrorLine(r.stderr).code, code, r.stderr);
      assert.equal(r.stdout, "");
      assert.deepEqual(readdirSync(dir), []);
    });
  }
});

describe("rotate --if-older-than", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld("keyhold-olderthan-");
    await runCliOk(["set", NAME], { env: s.env, input: makeCanary("first") });
  });
  after(() => s.cleanup());

  const history = async () =>
    JSON.parse((await runCliOk(["history", NAME, "--json"], { env: s.env })).stdout);
  /** A CMD that leaves a mark when it runs and prints a fresh value. */
  const marking = (mark: string, value: string) => `/bin/sh -c 'touch ${mark}; printf %s ${value}'`;

  it("leaves a version younger than SPAN alone, without running CMD", async () => {
    const before = await history();
    const mark = join(s.root, "ran-young");
    const r = await runCliOk(
      ["rotate", NAME, "--if-older-than", "30d", "--from-command", marking(mark, "not-a-secret-young")],
      { env: s.env },
    );
    assert.match(
      r.stdout,
      /^minted_key: version 1 has been current since .* UTC, less than 30d: not rotated\n$/,
    );
    assert.equal(existsSync(mark), false, "CMD did not run");
    assert.deepEqual(await history(), before);
  });

  it("rotates once the current version has been current for SPAN", async () => {
    const meta = join(s.state, "credentials", NAME, "meta.json");
    const aged = JSON.parse(readFileSync(meta, "utf8"));
    aged.updated = new Date(Date.now() - 31 * 86_400_000).toISOString();
    writeFileSync(meta, JSON.stringify(aged));
    const mark = join(s.root, "ran-due");
    const r = await runCliOk(
      ["rotate", NAME, "--if-older-than", "30d", "--from-command", marking(mark, "not-a-secret-due")],
      { env: s.env },
    );
    assert.match(r.stdout, /^rotated minted_key \(version 2, 16 bytes\)$/m);
    assert.equal(existsSync(mark), true);
    assert.equal((await history()).current, 2);
  });

  for (const [what, args, code] of [
    ["a bad span", [NAME, "--if-older-than", "30"], "USAGE"],
    ["keyhold's own credential", [AUDIT_KEY_NAME, "--if-older-than", "1h"], "RESERVED_NAME"],
  ] as const) {
    it(`${what}: ${code}`, async () => {
      const r = await runCli(["rotate", ...args, "--from-command", "/bin/echo x"], { env: s.env });
      assert.equal(firstErrorLine(r.stderr).code, code, r.stderr);
    });
  }
});
