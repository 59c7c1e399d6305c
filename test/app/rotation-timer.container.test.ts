import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import {
  bootForSuite,
  type Container,
  type ContainerSuite,
  KEYHOLD_INSIDE,
  keyholdInside as keyhold,
  needContainer,
} from "../harness/index.js";
import { startProcSampler } from "../support/proc-sampler.js";
import { makeCanary } from "../support/scratch.js";

/**
 * `keyhold rotate NAME --render-timer --every 30d --from-command CMD --restart` inside a real
 * systemd: the rendered units are written to /etc/systemd/system, the timer is enabled, and the
 * service is started by hand (nobody waits 30 days). While the current version is younger than
 * the span the service changes nothing; once it is older, the service runs CMD in its sandbox, the
 * credential gets a new version holding exactly CMD's output, and a consumer unit is restarted
 * onto it (systemctl from inside the sandbox). CMD holds '%', '$', both quotes and a '\', which
 * systemd would expand or eat if ExecStart= did not escape them. The value (a canary the pretend
 * provider hands out) never reaches argv, an environment, the journal or a unit file.
 */

const sha = (v: string | Buffer) => createHash("sha256").update(v).digest("hex");

const NAME = "api_key";
const SERVICE = "keyhold-rotate-api_key.service";
const TIMER = "keyhold-rotate-api_key.timer";
const CONSUMER = "kh-consumer.service";
/** The provider hands out whatever it was given to hand out next. */
const NEXT = "/root/provider/next-key";
// '%s' and "$(…)" would be a specifier and a variable to systemd; the '\' must reach sh as one.
const CMD = `/bin/sh -c 'set -e; v=$(cat ${NEXT}); printf %s "$v" | tr -d \\\\r'`;

const values: string[] = [];
const fresh = (label: string) => {
  const v = makeCanary(label);
  values.push(v);
  return v;
};
let suite: ContainerSuite;

before(async () => {
  suite = await bootForSuite({ label: "credtimer" });
  const c = suite.container;
  if (c === undefined) return;
  await c.check(keyhold("init"));
  await c.check(keyhold("set", NAME, "--with-key", "host"), { input: fresh("first") });
  c.writeFile(
    `/etc/systemd/system/${CONSUMER}`,
    `[Service]\nExecStart=/bin/sleep infinity\nLoadCredentialEncrypted=${NAME}\n`,
  );
  // The service orders itself after network-online.target; the container's private network
  // never comes online, and systemd-networkd-wait-online would hold every start for two minutes.
  await c.check(["systemctl", "mask", "systemd-networkd-wait-online.service"]);
  await c.check(["systemctl", "daemon-reload"]);
  await c.check(["systemctl", "start", CONSUMER]);
});

after(async () => {
  await suite?.stop();
});

async function history(c: Container): Promise<{ current: number; versions: { origin: string }[] }> {
  return JSON.parse((await c.check(keyhold("history", NAME, "--json"))).stdout);
}

/** Ages the current version: the store says it became current `days` ago. */
async function ageCurrent(c: Container, days: number): Promise<void> {
  const path = `/var/lib/keyhold/credentials/${NAME}/meta.json`;
  const meta = JSON.parse(c.readFile(path));
  meta.updated = new Date(Date.now() - days * 86_400_000).toISOString();
  c.writeFile(path, JSON.stringify(meta), { mode: 0o600 });
}

test("the rendered units are written, load cleanly, and the timer is active and listed", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const rendered = await c.check(
    keyhold(
      "rotate",
      NAME,
      "--render-timer",
      "--every",
      "30d",
      "--from-command",
      CMD,
      "--restart",
      "--settle",
      "1",
      "--write-dir",
      "/etc/systemd/system",
    ),
  );
  assert.equal(rendered.stdout, `wrote ${SERVICE} and ${TIMER} to /etc/systemd/system\n`);
  const verify = await c.run(["systemd-analyze", "verify", `/etc/systemd/system/${SERVICE}`]);
  assert.equal(verify.code, 0, verify.stderr);
  await c.check(["systemctl", "daemon-reload"]);
  await c.check(["systemctl", "enable", "--now", TIMER]);
  assert.equal(await c.unitProperty(TIMER, "ActiveState"), "active");
  const timers = await c.check(["systemctl", "list-timers", "--all", "--no-pager"]);
  assert.match(
    timers.stdout,
    new RegExp(`${TIMER.replaceAll(".", "\\.")}\\s+${SERVICE.replaceAll(".", "\\.")}`),
  );
  // What systemd will run (systemctl shows the argument unquoted but before '$$' becomes '$'):
  // CMD is one argument; the rotation below proves systemd hands it over byte for byte.
  const exec = await c.unitProperty(SERVICE, "ExecStart");
  // Without --exec: this keyhold, by the real paths of its node and bin/keyhold.js.
  const node = (await c.check(["realpath", "/usr/bin/node"])).stdout.trim();
  assert.ok(exec.includes(`argv[]=${node} ${KEYHOLD_INSIDE} rotate --store`), exec);
  assert.ok(
    exec.includes(
      `--from-command ${CMD.replaceAll("$", "$$$$")} --if-older-than 30d --restart --settle 1 -- ${NAME} ;`,
    ),
    exec,
  );
});

test("a version younger than the span is left alone: the service succeeds and changes nothing", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const before = await history(c);
  const next = fresh("young");
  c.writeFile(NEXT, next, { mode: 0o600 });
  const started = await c.run(["systemctl", "start", SERVICE]);
  assert.equal(started.code, 0, started.stderr + (await c.journal(["-u", SERVICE, "-n", "40"])));
  assert.equal(await c.unitProperty(SERVICE, "Result"), "success");
  assert.match(await c.journal(["-u", SERVICE]), /less than 30d: not rotated/);
  assert.deepEqual(await history(c), before);
});

test("once the current version is older than the span the service rotates from CMD and restarts the consumer onto it", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  await ageCurrent(c, 31);
  const before = await history(c);
  const pidBefore = await c.unitProperty(CONSUMER, "MainPID");
  const next = fresh("provided");
  c.writeFile(NEXT, next, { mode: 0o600 });

  const sampler = await startProcSampler([next], ["keyhold.js"]);
  let started: Awaited<ReturnType<Container["run"]>>;
  try {
    started = await c.run(["systemctl", "start", SERVICE]);
  } finally {
    const report = await sampler.stop();
    assert.deepEqual(report.hits, [], "the value appeared in a process's argv or environment");
    assert.ok((report.seen["keyhold.js"] ?? 0) > 0, "the sampler saw keyhold run");
  }
  const journal = await c.journal(["-u", SERVICE]);
  assert.equal(started.code, 0, started.stderr + journal);
  assert.equal(await c.unitProperty(SERVICE, "Result"), "success");
  assert.match(journal, /rotated api_key \(version \d+, \d+ bytes\); 1 unit restarted and healthy/);

  const now = await history(c);
  assert.equal(now.current, before.current + 1);
  assert.equal(now.versions.at(-1)?.origin, "rotate");
  const got = await c.check(["sh", "-c", `${keyhold("get", NAME).join(" ")} | sha256sum`]);
  assert.equal(got.stdout.split(" ")[0], sha(next), "the new version holds exactly CMD's output");

  assert.equal(await c.unitProperty(CONSUMER, "ActiveState"), "active");
  assert.notEqual(await c.unitProperty(CONSUMER, "MainPID"), pidBefore, "the consumer was restarted");
  const held = await c.check(["sha256sum", `/run/credentials/${CONSUMER}/${NAME}`]);
  assert.equal(held.stdout.split(" ")[0], sha(next), "the consumer holds the new value");

  // No log, unit file or unit property holds any value the credential ever had.
  const everything = [
    await c.journal(["-o", "export"]),
    (await c.check(["sh", "-c", "cat /etc/systemd/system/keyhold-rotate-* /etc/systemd/system/kh-*"])).stdout,
    (await c.check(["systemctl", "show", SERVICE, TIMER, CONSUMER])).stdout,
    (await c.check(["cat", "/var/lib/keyhold/audit.log"])).stdout,
  ].join("\n");
  for (const v of values) assert.ok(!everything.includes(v), `a value (${v.slice(0, 9)}…) leaked`);
});

test("the service fails, and changes nothing, when CMD fails", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  await ageCurrent(c, 31);
  const before = await history(c);
  await c.check(["rm", "-f", NEXT]);
  const started = await c.run(["systemctl", "start", SERVICE]);
  assert.notEqual(started.code, 0);
  assert.equal(await c.unitProperty(SERVICE, "Result"), "exit-code");
  assert.match(
    await c.journal(["-u", SERVICE]),
    /--from-command exited with code 1; nothing was stored \[COMMAND_FAILED\]/,
  );
  assert.deepEqual(await history(c), before);
  await c.check(["systemctl", "reset-failed", SERVICE]);
});
