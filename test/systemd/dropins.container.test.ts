import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { unitObjectPath } from "../../src/systemd/usage.js";
import {
  bootForSuite,
  type Container,
  type ContainerSuite,
  keyholdInside as keyhold,
  needContainer,
} from "../harness/index.js";
import { makeCanary } from "../support/scratch.js";

/**
 * A unit whose own files load no credential, given one by a drop-in systemd applies to it by
 * name pattern: a prefix directory (kh-pre-.service.d/ for kh-pre-web.service) or the top-level
 * service.d/ (every service). systemd loads it (its D-Bus property and /run/credentials say so);
 * `keyhold status` must name the unit and `rotate --restart` must restart it, not report that no
 * unit loads the credential and leave it on the old value.
 */

const sha = (v: string) => createHash("sha256").update(v).digest("hex");
const SLEEPER = "[Service]\nDynamicUser=yes\nExecStart=/bin/sleep infinity\n";
const PREFIXED = "kh-pre-web.service";
const PLAIN = "kh-plain.service";
const IDLE = "kh-idle.service";
const TYPE_WIDE = "/etc/systemd/system/service.d/50-kh-all.conf";

let suite: ContainerSuite;
before(async () => {
  suite = await bootForSuite({ label: "dropins" });
  const c = suite.container;
  if (c === undefined) return;
  await c.check(keyhold("init"));
  await c.check(keyhold("set", "p_key", "--with-key", "host"), { input: makeCanary("pre") });
  await c.check(keyhold("set", "all_key", "--with-key", "host"), { input: makeCanary("all") });
  for (const unit of [PREFIXED, PLAIN, IDLE])
    c.writeFile(`/etc/systemd/system/${unit}`, SLEEPER, { mode: 0o644 });
  c.writeFile(
    "/etc/systemd/system/kh-pre-.service.d/50-key.conf",
    "[Service]\nLoadCredentialEncrypted=p_key:/etc/credstore.encrypted/p_key\n",
    { mode: 0o644 },
  );
  await c.check(["systemctl", "daemon-reload"]);
  await c.check(["systemctl", "start", PREFIXED]);
});

after(async () => {
  await suite?.stop();
});

/** What systemd holds as the unit's LoadCredentialEncrypted= (its D-Bus property). */
async function systemdLoads(c: Container, unit: string): Promise<[string, string][]> {
  const r = await c.check([
    "busctl",
    "--json=short",
    "get-property",
    "org.freedesktop.systemd1",
    unitObjectPath(unit),
    "org.freedesktop.systemd1.Service",
    "LoadCredentialEncrypted",
  ]);
  return (JSON.parse(r.stdout) as { data: [string, string][] }).data;
}

async function heldDigest(c: Container, unit: string, id: string): Promise<string> {
  return (await c.check(["sha256sum", `/run/credentials/${unit}/${id}`])).stdout.split(" ")[0] as string;
}

interface StatusJson {
  units: { unit: string; source: string; running: boolean; holds: string | null }[];
  typeWide: { dropIn: string; unitType: string; running: number; notRunning: number }[];
}

test("a credential loaded only through a prefix drop-in: status names the unit, rotate --restart moves it", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  // systemd agrees the unit loads it, from that drop-in only.
  assert.deepEqual(await systemdLoads(c, PREFIXED), [["p_key", "/etc/credstore.encrypted/p_key"]]);
  assert.equal(
    await c.unitProperty(PREFIXED, "DropInPaths"),
    "/etc/systemd/system/kh-pre-.service.d/50-key.conf",
  );
  const status = JSON.parse((await c.check(keyhold("status", "p_key", "--json"))).stdout) as StatusJson;
  assert.deepEqual(
    status.units.map((u) => [u.unit, u.source, u.running, u.holds]),
    [[PREFIXED, "systemd", true, "current"]],
  );

  const before = await c.unitProperty(PREFIXED, "InvocationID");
  const next = makeCanary("pre");
  const r = await c.run(keyhold("rotate", "p_key", "--restart", "--settle", "1"), { input: next });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /1 unit restarted and healthy/);
  assert.notEqual(await c.unitProperty(PREFIXED, "InvocationID"), before, "not restarted");
  assert.equal(await heldDigest(c, PREFIXED, "p_key"), sha(next), "the unit holds the new value");
});

test("a credential loaded through service.d/: the running services are listed, the idle ones counted", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  c.writeFile(TYPE_WIDE, "[Service]\nLoadCredentialEncrypted=all_key:/etc/credstore.encrypted/all_key\n", {
    mode: 0o644,
  });
  try {
    await c.check(["systemctl", "daemon-reload"]);
    await c.check(["systemctl", "start", PLAIN]);
    assert.deepEqual(await systemdLoads(c, PLAIN), [["all_key", "/etc/credstore.encrypted/all_key"]]);
    assert.deepEqual(await systemdLoads(c, IDLE), [["all_key", "/etc/credstore.encrypted/all_key"]]);
    // The prefix drop-in's unit gets both.
    assert.equal((await systemdLoads(c, PREFIXED)).length, 2);
    assert.equal(
      await heldDigest(c, PLAIN, "all_key"),
      (await c.check(["sh", "-c", `${keyhold("get", "all_key").join(" ")} | sha256sum`])).stdout.split(
        " ",
      )[0],
    );

    const status = JSON.parse((await c.check(keyhold("status", "all_key", "--json"))).stdout) as StatusJson;
    const plain = status.units.find((u) => u.unit === PLAIN);
    assert.deepEqual(plain && [plain.source, plain.running, plain.holds], ["systemd", true, "current"]);
    // A service that started before the drop-in existed holds no version of it: stale.
    const journald = status.units.find((u) => u.unit === "systemd-journald.service");
    assert.equal(journald?.holds, "stale", JSON.stringify(status.units));
    assert.ok(
      status.units.every((u) => u.running),
      "an idle unit that has it only from service.d/ is counted, not listed",
    );
    assert.equal(status.typeWide.length, 1, JSON.stringify(status.typeWide));
    const [wide] = status.typeWide;
    assert.equal(wide?.dropIn, TYPE_WIDE);
    assert.equal(wide?.unitType, "service");
    assert.equal(wide?.running, status.units.length);
    // kh-idle.service and every other service unit on disk that is not running (many more).
    assert.ok((wide?.notRunning ?? 0) >= 1);
    const text = await c.check(keyhold("status", "all_key"));
    assert.match(text.stdout, new RegExp(`^${PLAIN.replace(".", "\\.")}\\s`, "m"));
    assert.doesNotMatch(text.stdout, new RegExp(IDLE.replace(".", "\\.")));
    assert.match(
      text.stdout,
      /every \.service unit loads it through \/etc\/systemd\/system\/service\.d\/50-kh-all\.conf: \d+ running \(listed\), \d+ not running/,
    );

    // rotate --restart would restart every running service (dbus, journald…): refused before
    // anything is written, and no unit moves.
    const held = await heldDigest(c, PLAIN, "all_key");
    const before = (await c.check(keyhold("history", "all_key"))).stdout;
    const refused = await c.run(keyhold("rotate", "all_key", "--restart", "--settle", "1"), {
      input: makeCanary("wide"),
    });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      /^keyhold: --restart would restart every running unit of a type: \d+ get all_key through \/etc\/systemd\/system\/service\.d\/50-kh-all\.conf \[USAGE\]$/m,
    );
    assert.equal((await c.check(keyhold("history", "all_key"))).stdout, before, "no new version");
    assert.equal(await heldDigest(c, PLAIN, "all_key"), held, "the unit was not restarted");
  } finally {
    await c.run(["rm", "-f", TYPE_WIDE]);
    await c.run(["systemctl", "daemon-reload"]);
  }
});
