import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  bootForSuite,
  type ContainerSuite,
  KEYHOLD_INSIDE,
  keyholdInside as keyhold,
  needContainer,
} from "../harness/index.js";
import { makeCanary } from "../support/scratch.js";

/**
 * `keyhold vault rotate --render-timer` inside a real systemd: the rendered service runs
 * `rotate --due` in the answering units' sandbox (root with no capabilities, only the store and
 * the state directory writable), and every rotation it may have to do (master, which seals a new
 * master into the store and MACs every record again; kek; dek with every value re-sealed) works
 * there: the same unit, its ExecStart= replaced by a drop-in.
 */

const UNIT = "keyhold-vault-rotate.service";
const value = makeCanary("rotatetimer");
let suite: ContainerSuite;

before(async () => {
  suite = await bootForSuite({ label: "rotatetimer" });
  const c = suite.container;
  if (c === undefined) return;
  await c.check(keyhold("init"));
  await c.check(keyhold("vault", "init", "--schedule-dek", "30d"));
  await c.check(keyhold("vault", "put", "billing/openai"), { input: value });
  const rendered = await c.check(
    keyhold(
      "vault",
      "rotate",
      "--render-timer",
      "--exec",
      `/usr/bin/node ${KEYHOLD_INSIDE}`,
      "--write-dir",
      "/etc/systemd/system",
    ),
  );
  assert.match(rendered.stdout, /^wrote keyhold-vault-rotate\.service and keyhold-vault-rotate\.timer/);
  await c.check(["systemctl", "daemon-reload"]);
});

after(async () => {
  await suite?.stop();
});

async function keyVersions(c: NonNullable<ContainerSuite["container"]>) {
  const status = JSON.parse((await c.check(keyhold("vault", "rotate", "--status", "--json"))).stdout);
  return status.keys as { master: number; kek: number };
}

test("the timer's service runs rotate --due in its sandbox: nothing is due yet", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const started = await c.run(["systemctl", "start", UNIT]);
  assert.equal(started.code, 0, started.stderr + (await c.journal(["-u", UNIT, "-n", "40"])));
  assert.equal(await c.unitProperty(UNIT, "Result"), "success");
  assert.match(await c.journal(["-u", UNIT]), /nothing is due/);
  await c.check(["systemctl", "enable", "--now", "keyhold-vault-rotate.timer"]);
  assert.equal(await c.unitProperty("keyhold-vault-rotate.timer", "ActiveState"), "active");
});

test("master, kek and dek rotations with every value re-sealed all work in the timer's sandbox", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const before = await keyVersions(c);
  const exec = (args: string) =>
    `ExecStart=/usr/bin/node ${KEYHOLD_INSIDE} vault rotate ${args} --store /etc/credstore.encrypted --state /var/lib/keyhold`;
  c.writeFile(
    `/etc/systemd/system/${UNIT}.d/rotate-now.conf`,
    ["[Service]", "ExecStart=", exec("--all --reason sandbox-check"), exec("kek"), ""].join("\n"),
  );
  await c.check(["systemctl", "daemon-reload"]);
  const started = await c.run(["systemctl", "start", UNIT]);
  assert.equal(started.code, 0, started.stderr + (await c.journal(["-u", UNIT, "-n", "40"])));
  assert.equal(await c.unitProperty(UNIT, "Result"), "success");
  const journal = await c.journal(["-u", UNIT]);
  assert.match(journal, /rotated master: now version 2/);
  assert.match(journal, /rotated dek: now version/);
  assert.match(journal, /rotated kek: now version/);
  const now = await keyVersions(c);
  assert.equal(now.master, before.master + 1);
  assert.ok(now.kek > before.kek, JSON.stringify({ before, now }));

  // The vault still opens outside the sandbox with the new master, and the value is intact.
  const got = await c.check(keyhold("vault", "get", "billing/openai"));
  assert.equal(got.stdout, value);
  const verified = await c.run(keyhold("vault", "audit", "verify"));
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  assert.ok(!journal.includes(value), "the value is in no log");
});
