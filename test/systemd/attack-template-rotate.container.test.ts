import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  bootForSuite,
  type ContainerSuite,
  keyholdInside as keyhold,
  needContainer,
} from "../harness/index.js";
import { makeCanary } from "../support/scratch.js";

/**
 * Instances of a template unit (`worker@.service`) that load a credential: after a rotation (one
 * after a leak, say) `rotate --restart` must restart them too, not report that no running unit
 * loads it and leave them on the old value.
 */

const TEMPLATE = `[Unit]
Description=worker %i

[Service]
DynamicUser=yes
LoadCredentialEncrypted=w_key:/etc/credstore.encrypted/w_key
ExecStart=/bin/sleep infinity
`;
const INSTANCES = ["kh-w@1.service", "kh-w@2.service"];

let suite: ContainerSuite;
before(async () => {
  suite = await bootForSuite({ label: "template" });
  const c = suite.container;
  if (c === undefined) return;
  await c.check(keyhold("init"));
  await c.check(keyhold("set", "w_key", "--with-key", "host"), { input: makeCanary("w") });
  c.writeFile("/etc/systemd/system/kh-w@.service", TEMPLATE, { mode: 0o644 });
  await c.check(["systemctl", "daemon-reload"]);
  await c.check(["systemctl", "start", ...INSTANCES]);
});

after(async () => {
  await suite?.stop();
});

test("rotate --restart restarts the running instances of a template that loads the credential", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const before = await Promise.all(INSTANCES.map((u) => c.unitProperty(u, "InvocationID")));
  const r = await c.run(keyhold("rotate", "w_key", "--restart", "--settle", "1"), {
    input: makeCanary("w"),
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 units restarted and healthy/);
  const now = await Promise.all(INSTANCES.map((u) => c.unitProperty(u, "InvocationID")));
  INSTANCES.forEach((u, i) => {
    assert.notEqual(now[i], before[i], `${u} was not restarted`);
  });
});
