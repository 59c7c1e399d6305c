import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isKeyholdError } from "../../src/secret/index.js";
import { type RotationTimerOptions, renderRotationTimer, renderUnit } from "../../src/units/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { analyzeRendered, assertMatchesSnapshot } from "./cases.js";

/**
 * renderRotationTimer (`keyhold vault rotate --render-timer`): the daily `rotate --due` runs in the
 * sandbox of the vault's answering units, which differs only in that the store is writable (a
 * master rotation seals the new master there). test/vault/rotation-timer.container.test.ts runs it
 * in a real systemd.
 */

const FILES: RotationTimerOptions = {
  exec: "/usr/local/bin/keyhold",
  store: "/etc/credstore.encrypted",
  state: "/var/lib/keyhold",
  network: false,
};

const CASES: Record<string, RotationTimerOptions> = {
  "rotation-timer": FILES,
  "rotation-timer-postgres": { ...FILES, network: true },
  "rotation-timer-home": {
    exec: "/root/.nvm/versions/node/v20.20.2/bin/node /root/keyhold/bin/keyhold.js",
    store: "/etc/credstore.encrypted",
    state: "/root/keyhold-state",
    network: false,
  },
};

const directives = (content: string) => content.split("\n").filter((l) => /^[A-Za-z]+=/.test(l));

/** The answering unit's [Service] from its sandbox on (LimitCORE=), comments left out. */
function sandboxOf(content: string): string[] {
  const lines = directives(content.slice(content.indexOf("[Service]")));
  return lines.slice(lines.indexOf("LimitCORE=0"));
}

describe("renderRotationTimer", () => {
  for (const [name, options] of Object.entries(CASES)) {
    it(`${name}: matches its reviewed snapshot`, () => {
      assertMatchesSnapshot(name, renderRotationTimer(options));
    });
  }

  it("runs rotate --due daily in the answering units' sandbox, with the store writable too", () => {
    for (const network of [false, true]) {
      const [service, timer] = renderRotationTimer({ ...FILES, network });
      assert.deepEqual(
        [service?.path, timer?.path],
        ["keyhold-vault-rotate.service", "keyhold-vault-rotate.timer"],
      );
      const answerer = renderUnit({
        service: "my-app",
        mode: "isolated",
        exec: "/usr/bin/my-app",
        vault: [{ ns: "billing", name: "openai" }],
        vaultNetwork: network,
        keyholdRoot: "/opt/keyhold",
      }).files.find((f) => f.path.endsWith("@.service"));
      const expected = sandboxOf(answerer?.content ?? "").map((l) =>
        l === "ReadWritePaths=-/var/lib/keyhold"
          ? "ReadWritePaths=-/etc/credstore.encrypted -/var/lib/keyhold"
          : l,
      );
      const lines = directives(service?.content ?? "");
      assert.deepEqual(sandboxOf(service?.content ?? ""), expected);
      assert.ok(lines.includes("Type=oneshot"));
      assert.ok(
        lines.includes(
          "ExecStart=/usr/local/bin/keyhold vault rotate --due --store /etc/credstore.encrypted --state /var/lib/keyhold",
        ),
      );
      assert.ok(lines.includes("CapabilityBoundingSet="));
      assert.deepEqual(directives(timer?.content ?? ""), [
        "Description=keyhold vault: daily check for keys due for rotation",
        "OnCalendar=daily",
        "RandomizedDelaySec=1h",
        "Persistent=true",
        "WantedBy=timers.target",
      ]);
    }
  });

  it("refuses an executable or directory systemd would read as syntax, with a coded error", () => {
    for (const options of [
      { ...FILES, exec: "keyhold" },
      { ...FILES, exec: "/usr/local/bin/keyhold\nExecStartPost=/bin/sh" },
      { ...FILES, store: "/etc/credstore.encrypted -/home" },
      { ...FILES, state: "/var/lib/keyhold\nUser=nobody" },
      { ...FILES, state: "relative/state" },
    ]) {
      assert.throws(
        () => renderRotationTimer(options),
        (err) => isKeyholdError(err, "USAGE"),
        JSON.stringify(options),
      );
    }
  });
});

describe("systemd-analyze on the rotation timer", () => {
  let scratch: Scratch;
  before(() => {
    scratch = makeScratch("keyhold-rotation-timer-");
  });
  after(() => scratch.cleanup());

  for (const [name, options] of Object.entries(CASES)) {
    it(`${name}: verify is clean and the exposure is recorded`, async (t) => {
      // The executables of the cases need not exist on this machine: analyzeRendered passes over that.
      const report = await analyzeRendered(join(scratch.root, name), renderRotationTimer(options));
      assert.deepEqual(report.messages, []);
      t.diagnostic(`exposure ${name}: ${report.exposure.toFixed(1)} ${report.rating}`);
      // The answering units' goal (analyze.test.ts); the network costs 0.6 more on PostgreSQL.
      assert.ok(report.exposure <= (options.network ? 2.6 : 2.0), `exposure ${report.exposure}`);
    });
  }
});
