import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import {
  bootForSuite,
  type ContainerSuite,
  keyholdInside as keyhold,
  needContainer,
} from "../harness/index.js";
import { makeCanary } from "../support/scratch.js";

/**
 * `keyhold` where systemd is PID 1 (a booted container): the default store under /etc, the
 * host key systemd-creds makes, `run` with its own ramfs directory and `run --systemd`, where
 * PID 1 decrypts through LoadCredentialEncrypted= as it would for a service.
 */

const canary = makeCanary("pid1");
const digest = createHash("sha256").update(canary).digest("hex");
let suite: ContainerSuite;

before(async () => {
  suite = await bootForSuite({ label: "run" });
  const c = suite.container;
  if (c === undefined) return;
  await c.addUser("dev");
  await c.check(keyhold("init"));
  await c.check(keyhold("set", "pid1_key"), { input: canary });
});

after(async () => {
  await suite?.stop();
});

test("run hands the key to a command through its own credential directory", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const r = await c.check(
    keyhold(
      "run",
      "pid1_key",
      "--",
      "sh",
      "-c",
      'sha256sum "$CREDENTIALS_DIRECTORY/pid1_key"; echo "dir=$CREDENTIALS_DIRECTORY"',
    ),
  );
  assert.match(r.stdout, new RegExp(`^${digest} `));
  const dir = /dir=(\S+)/.exec(r.stdout)?.[1] ?? "";
  // Root's runs share one ramfs at /run/keyhold/ramfs (a mount of their own when it cannot be used).
  assert.match(dir, /^\/run\/keyhold\/(?:ramfs\/)?credentials-/);
  assert.equal((await c.run(["test", "-e", dir])).code, 1, "the directory is gone afterwards");
  assert.ok(!r.stdout.includes(canary) && !r.stderr.includes(canary));
});

test("run --systemd lets PID 1 decrypt with LoadCredentialEncrypted=", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const r = await c.check(
    keyhold(
      "run",
      "--systemd",
      "pid1_key",
      "--",
      "sh",
      "-c",
      'sha256sum "$CREDENTIALS_DIRECTORY/pid1_key"; echo "dir=$CREDENTIALS_DIRECTORY"',
    ),
  );
  assert.match(r.stdout, new RegExp(`^${digest} `));
  assert.match(r.stdout, /dir=\/run\/credentials\/run-/);
  const code = await c.run(keyhold("run", "--systemd", "pid1_key", "--", "sh", "-c", "exit 7"));
  assert.equal(code.code, 7, "the command's exit code comes back");
});

test("an unprivileged user can neither read nor decrypt the store", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const get = await c.runAsUser("dev", keyhold("get", "pid1_key"));
  assert.equal(get.code, 1);
  assert.match(get.stderr, /^keyhold: .* \[NOT_ROOT\]$/m);
  const raw = await c.runAsUser("dev", ["cat", "/etc/credstore.encrypted/pid1_key"]);
  assert.notEqual(raw.code, 0);
  assert.ok(!get.stdout.includes(canary) && !get.stderr.includes(canary));
});
