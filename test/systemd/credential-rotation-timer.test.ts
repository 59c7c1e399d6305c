import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isKeyholdError } from "../../src/secret/index.js";
import {
  type CredentialRotationTimerOptions,
  credentialRotationUnit,
  renderCredentialRotationTimer,
  renderRotationTimer,
  rotationSpan,
} from "../../src/units/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { analyzeRendered, assertMatchesSnapshot } from "./cases.js";

/**
 * renderCredentialRotationTimer (`keyhold rotate NAME --render-timer`): a calendar timer and a
 * oneshot service running `rotate --from-command CMD --if-older-than SPAN -- NAME` in the vault
 * rotation's root sandbox with the network. test/app/rotation-timer.container.test.ts runs it in a
 * real systemd.
 */

const PLAIN: CredentialRotationTimerOptions = {
  exec: "/usr/local/bin/keyhold",
  store: "/etc/credstore.encrypted",
  state: "/var/lib/keyhold",
  name: "openai_key",
  every: "30d",
  command: "/usr/local/bin/mint-key --service billing",
};

const CASES: Record<string, CredentialRotationTimerOptions> = {
  "credential-rotation-timer": PLAIN,
  "credential-rotation-timer-restart": {
    exec: "/usr/bin/node /opt/keyhold/bin/keyhold.js",
    store: "/etc/credstore.encrypted",
    state: "/var/lib/keyhold",
    name: "-odd name%h\\",
    every: "12h",
    command: `/bin/sh -c 'printf %s "$(/usr/local/bin/mint-key)" | tr -d \\\\r'`,
    restart: { settleS: 10, timeoutS: 120, rollback: false },
    rotateOptions: ["--with-key", "host", "--not-after", "+45d"],
  },
};

const directives = (content: string) => content.split("\n").filter((l) => /^[A-Za-z]+=/.test(l));
const execStart = (files: { content: string }[]) =>
  directives(files[0]?.content ?? "").find((l) => l.startsWith("ExecStart=")) ?? "";

describe("renderCredentialRotationTimer", () => {
  for (const [name, options] of Object.entries(CASES)) {
    it(`${name}: matches its reviewed snapshot`, () => {
      assertMatchesSnapshot(name, renderCredentialRotationTimer(options));
    });
  }

  it("runs rotate --if-older-than in the vault rotation's sandbox, with the network and the homes read-only", () => {
    const [service, timer] = renderCredentialRotationTimer(PLAIN);
    assert.deepEqual(
      [service?.path, timer?.path],
      ["keyhold-rotate-openai_key.service", "keyhold-rotate-openai_key.timer"],
    );
    assert.equal(
      execStart([service as { content: string }]),
      'ExecStart=/usr/local/bin/keyhold rotate --store /etc/credstore.encrypted --state /var/lib/keyhold --from-command "/usr/local/bin/mint-key --service billing" --if-older-than 30d -- openai_key',
    );
    const vault = directives(
      renderRotationTimer({ exec: PLAIN.exec, store: PLAIN.store, state: PLAIN.state, network: true })[0]
        ?.content ?? "",
    );
    const sandbox = (lines: string[]) => lines.slice(lines.indexOf("LimitCORE=0"));
    const lines = directives(service?.content ?? "");
    assert.deepEqual(sandbox(lines), sandbox(vault));
    for (const l of [
      "Type=oneshot",
      "CapabilityBoundingSet=",
      "ProtectSystem=strict",
      "ProtectHome=read-only",
    ])
      assert.ok(lines.includes(l), l);
    assert.ok(lines.includes("ReadWritePaths=-/etc/credstore.encrypted -/var/lib/keyhold"));
  });

  it("checks daily with a day's span or more, hourly below two days; Persistent and a random delay either way", () => {
    const timer = (every: string) =>
      directives(renderCredentialRotationTimer({ ...PLAIN, every })[1]?.content ?? "");
    for (const every of ["2d", "30d", "1w", "3month", "1y"])
      assert.deepEqual(timer(every).slice(1, 4), [
        "OnCalendar=daily",
        "RandomizedDelaySec=1h",
        "Persistent=true",
      ]);
    for (const every of ["1h", "12h", "1d23h"])
      assert.deepEqual(timer(every).slice(1, 4), [
        "OnCalendar=hourly",
        "RandomizedDelaySec=5min",
        "Persistent=true",
      ]);
  });

  it("escapes every specifier and variable of CMD, %d included, and passes it as one quoted word", () => {
    const command = `/bin/sh -c 'echo %d %n $HOME \${USER} "q" \\\\x'`;
    const line = execStart(renderCredentialRotationTimer({ ...PLAIN, command }));
    assert.ok(
      line.includes(
        `--from-command "/bin/sh -c 'echo %%d %%n $$HOME $\${USER} \\"q\\" \\\\\\\\x'" --if-older-than`,
      ),
      line,
    );
  });

  it("names a unit after the credential, or after its digest when a unit name cannot hold it", () => {
    assert.equal(credentialRotationUnit("openai.key"), "keyhold-rotate-openai.key");
    for (const odd of ["-odd name%h\\", "a..b", "x".repeat(101), "ключ"])
      assert.match(credentialRotationUnit(odd), /^keyhold-rotate:[0-9a-f]{10}$/);
  });

  it("reads --every strictly: systemd's units, no blanks, 1h to 10y; anything else is a coded USAGE error", () => {
    assert.equal(rotationSpan("--every", "30d"), 30 * 86_400);
    assert.equal(rotationSpan("--every", "1w"), 7 * 86_400);
    assert.equal(rotationSpan("--every", "1d12h"), 36 * 3600);
    assert.equal(rotationSpan("--every", "60min"), 3600);
    for (const bad of [
      "",
      "30",
      "30x",
      "30 d",
      " 30d",
      "30d ",
      "+30d",
      "-1d",
      "1.5d",
      "30m",
      "59min",
      "11y",
      "1d;",
      "30d\nOnCalendar=minutely",
      "0d",
    ]) {
      assert.throws(
        () => renderCredentialRotationTimer({ ...PLAIN, every: bad }),
        (err) => isKeyholdError(err, "USAGE"),
        JSON.stringify(bad),
      );
    }
  });

  it("refuses an executable or directory systemd would read as syntax or the sandbox would hide, with a coded error", () => {
    for (const options of [
      { ...PLAIN, exec: "keyhold" },
      { ...PLAIN, exec: "/usr/local/bin/keyhold\nExecStartPost=/bin/sh" },
      { ...PLAIN, store: "/etc/credstore.encrypted -/home" },
      { ...PLAIN, state: "/var/lib/keyhold\nUser=nobody" },
      { ...PLAIN, command: "/usr/bin/mint\nExecStartPost=/bin/sh" },
      // PrivateTmp= would hide them: the service could never run.
      { ...PLAIN, exec: "/usr/bin/node /tmp/keyhold/bin/keyhold.js" },
      { ...PLAIN, command: "/var/tmp/mint-key --service billing" },
    ]) {
      assert.throws(
        () => renderCredentialRotationTimer(options),
        (err) => isKeyholdError(err, "USAGE"),
        JSON.stringify(options),
      );
    }
  });
});

describe("systemd-analyze on the credential rotation timer", () => {
  let scratch: Scratch;
  before(() => {
    scratch = makeScratch("keyhold-credential-rotation-timer-");
  });
  after(() => scratch.cleanup());

  for (const [name, options] of Object.entries(CASES)) {
    it(`${name}: verify is clean and the exposure is recorded`, async (t) => {
      // The executables of the cases need not exist on this machine: analyzeRendered passes over that.
      const report = await analyzeRendered(join(scratch.root, name), renderCredentialRotationTimer(options));
      assert.deepEqual(report.messages, []);
      t.diagnostic(`exposure ${name}: ${report.exposure.toFixed(1)} ${report.rating}`);
      // The vault rotation on PostgreSQL: the same sandbox with the network.
      assert.ok(report.exposure <= 2.6, `exposure ${report.exposure}`);
    });
  }
});
