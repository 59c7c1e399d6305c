import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { renderUnit } from "../../src/units/index.js";
import {
  bootForSuite,
  type Container,
  type ContainerSuite,
  KEYHOLD_INSIDE,
  needContainer,
} from "../harness/index.js";
import { makeCanary } from "../support/scratch.js";

/**
 * The standard and isolated modes inside a real systemd: a unit rendered and installed by
 * `keyhold unit --install` starts a service that reads its key through the library's
 * loadSecret() from $CREDENTIALS_DIRECTORY; with DynamicUser=yes it runs under a transient UID; a
 * credential whose embedded name differs from its ID fails the unit with 243/CREDENTIALS; the
 * value never reaches the journal, the unit files or the service's environment.
 */

const APP = "/srv/app/app.mjs";
// The service proves it holds the right key by printing its SHA-256, never the key.
const APP_SOURCE = `import { createHash } from "node:crypto";
import { loadSecret } from "/opt/keyhold/dist/src/index.js";
const name = process.argv[2];
const secret = await loadSecret(name);
const digest = createHash("sha256").update(secret.exposeBytes()).digest("hex");
const value = secret.expose();
const envClean = !Object.values(process.env).some((v) => v !== undefined && v.includes(value));
console.log(\`kh-app ok name=\${name} uid=\${process.getuid()} gid=\${process.getgid()} sha256=\${digest} dir=\${process.env.CREDENTIALS_DIRECTORY} env_clean=\${envClean}\`);
if (process.argv[3] === "--stay") setInterval(() => {}, 1 << 30);
`;

const canary = makeCanary("service");
const canaryDigest = createHash("sha256").update(canary).digest("hex");
let suite: ContainerSuite;

before(async () => {
  suite = await bootForSuite({ label: "services" });
  const c = suite.container;
  if (c === undefined) return;
  await c.addUser("dev");
  c.writeFile(APP, APP_SOURCE, { mode: 0o644 });
  await c.encryptCredential("my_api_key", canary);
  // The usual hand-made mistake: encrypted as my_app_key, loaded as my_key.
  await c.encryptCredential("my_app_key", canary);
});

after(async () => {
  await suite?.stop();
});

async function keyholdUnit(c: Container, args: string[]) {
  return c.run(["/usr/bin/node", KEYHOLD_INSIDE, "unit", ...args]);
}

/** Starts a unit that runs to completion and returns the app's report line from the journal. */
async function runToCompletion(c: Container, unit: string): Promise<string> {
  await c.check(["systemctl", "daemon-reload"]);
  await c.check(["systemctl", "start", unit]);
  await c.waitForUnit(unit, ["inactive", "failed"]);
  assert.equal(await c.unitProperty(unit, "Result"), "success", await c.journal(["-u", unit]));
  const journal = await c.journal(["-u", unit, "-o", "cat"]);
  const line = journal.split("\n").find((l) => l.startsWith("kh-app ok"));
  assert.ok(line, `no report from ${unit}: ${journal}`);
  return line;
}

function field(line: string, key: string): string {
  const value = new RegExp(`(?:^| )${key}=(\\S*)`).exec(line)?.[1];
  assert.ok(value !== undefined, `no ${key} in ${line}`);
  return value;
}

test("standard mode: a service installed by keyhold unit reads its key through loadSecret", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const installed = await keyholdUnit(c, [
    "kh-standard",
    "--exec",
    `/usr/bin/node ${APP} my_api_key`,
    "--cred",
    "my_api_key",
    "--install",
  ]);
  assert.equal(installed.code, 0, installed.stderr);
  assert.equal(installed.stderr, "", "the credential exists and decrypts under its ID: no warning");
  assert.match(installed.stdout, /installed \/etc\/systemd\/system\/kh-standard\.service/);

  const line = await runToCompletion(c, "kh-standard.service");
  assert.equal(field(line, "sha256"), canaryDigest);
  assert.equal(field(line, "uid"), "0");
  assert.equal(field(line, "dir"), "/run/credentials/kh-standard.service");
  assert.equal(field(line, "env_clean"), "true");
});

test("isolated mode: DynamicUser=yes runs the service under a transient UID that owns nothing", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const installed = await keyholdUnit(c, [
    "kh-isolated",
    "--mode",
    "isolated",
    "--exec",
    `/usr/bin/node ${APP} my_api_key --stay`,
    "--cred",
    "my_api_key",
    "--install",
  ]);
  assert.equal(installed.code, 0, installed.stderr);
  await c.check(["systemctl", "daemon-reload"]);
  await c.check(["systemctl", "start", "kh-isolated.service"]);
  try {
    // Wait for the report line: the service is up once it printed.
    let line: string | undefined;
    for (let i = 0; i < 200 && line === undefined; i++) {
      const journal = await c.journal(["-u", "kh-isolated.service", "-o", "cat"]);
      line = journal.split("\n").find((l) => l.startsWith("kh-app ok"));
      if (line === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(line, "the isolated service never reported");
    assert.equal(field(line, "sha256"), canaryDigest);
    const uid = Number(field(line, "uid"));
    // systemd allocates dynamic users from 61184-65519 and they have no /etc/passwd entry.
    assert.ok(uid >= 61184 && uid <= 65519, `uid ${uid} is not a dynamic one`);
    const passwd = c.readFile("/etc/passwd");
    assert.ok(
      !passwd.split("\n").some((l) => l.split(":")[2] === String(uid)),
      "a dynamic UID is not in /etc/passwd",
    );
    assert.equal(field(line, "env_clean"), "true");

    // A developer on the same machine reads neither the credential nor the service's memory.
    const pid = await c.unitProperty("kh-isolated.service", "MainPID");
    const credential = "/run/credentials/kh-isolated.service/my_api_key";
    for (const path of [credential, `/proc/${pid}/environ`, `/proc/${pid}/mem`]) {
      const read = await c.runAsUser("dev", ["cat", path]);
      assert.notEqual(read.code, 0, `dev could read ${path}`);
      assert.match(read.stderr, /Permission denied|No such file/);
      assert.ok(!read.stdout.includes(canary));
    }
    // Running the program directly, without the service, finds no key.
    const direct = await c.runAsUser("dev", ["/usr/bin/node", APP, "my_api_key"]);
    assert.notEqual(direct.code, 0);
    assert.ok(!`${direct.stdout}${direct.stderr}`.includes(canary));
  } finally {
    await c.run(["systemctl", "stop", "kh-isolated.service"]);
  }
});

test("%d in --exec is systemd's credentials directory: a program can be handed the key's path", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const installed = await keyholdUnit(c, [
    "kh-path",
    "--mode",
    "isolated",
    "--exec",
    `/bin/sh -c 'echo "kh-app ok sha256=$(sha256sum < "$1" | cut -d" " -f1)"' sh %d/my_api_key`,
    "--cred",
    "my_api_key",
    "--install",
  ]);
  assert.equal(installed.code, 0, installed.stderr);
  const line = await runToCompletion(c, "kh-path.service");
  assert.equal(field(line, "sha256"), canaryDigest);
});

test("a credential loaded under another name than its embedded one is refused by keyhold unit", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const refused = await keyholdUnit(c, [
    "kh-mismatch",
    "--exec",
    `/usr/bin/node ${APP} my_key`,
    "--cred",
    "my_key:/etc/credstore.encrypted/my_app_key",
    "--install",
  ]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /\[NAME_MISMATCH\]/);
  assert.match(refused.stderr, /hint: .*--cred my_app_key:\/etc\/credstore\.encrypted\/my_app_key/);
  assert.ok(!refused.stderr.includes(canary));
  const written = await c.run(["test", "-e", "/etc/systemd/system/kh-mismatch.service"]);
  assert.notEqual(written.code, 0, "nothing is installed when the name check fails");
});

test("systemd itself fails such a unit with 243/CREDENTIALS (what the check prevents)", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  // Rendered without the check, installed by hand: the name mismatch a hand-made unit would have.
  const rendered = renderUnit({
    service: "kh-wrong-name",
    mode: "isolated",
    exec: `/usr/bin/node ${APP} my_key`,
    credentials: ["my_key:/etc/credstore.encrypted/my_app_key"],
  });
  await c.installUnits(rendered.files);
  await c.run(["systemctl", "start", "kh-wrong-name.service"]);
  await c.waitForUnit("kh-wrong-name.service", ["failed"]);
  assert.equal(await c.unitProperty("kh-wrong-name.service", "ExecMainStatus"), "243");
  const journal = await c.journal(["-u", "kh-wrong-name.service", "-o", "cat"]);
  assert.match(journal, /243\/CREDENTIALS/);
  await c.run(["systemctl", "reset-failed", "kh-wrong-name.service"]);
});

test("--ip-allow is enforced: the service reaches the hosts listed and nothing else", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  await c.check([
    "systemd-run",
    "--unit=kh-listener",
    "/usr/bin/python3",
    "-m",
    "http.server",
    "--bind",
    "127.0.0.1",
    "8080",
  ]);
  try {
    // Wait until the listener answers (as root, outside any unit's firewall).
    for (let i = 0; i < 100; i++) {
      if ((await c.run(["curl", "-s", "-o", "/dev/null", "-m", "1", "http://127.0.0.1:8080/"])).code === 0)
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const probe = `/bin/sh -c 'echo "kh-app ok http=$(curl -s -o /dev/null -m 1 -w %{http_code} http://127.0.0.1:8080/)"'`;
    for (const [unit, allow, expected] of [
      ["kh-net-allowed", "127.0.0.1", "200"],
      ["kh-net-denied", "192.0.2.1", "000"],
    ] as const) {
      const installed = await keyholdUnit(c, [
        unit,
        "--mode",
        "isolated",
        "--exec",
        probe,
        "--ip-allow",
        allow,
        "--install",
      ]);
      assert.equal(installed.code, 0, installed.stderr);
      const line = await runToCompletion(c, `${unit}.service`);
      assert.equal(field(line, "http"), expected, `${unit}: ${line}`);
    }
  } finally {
    await c.run(["systemctl", "stop", "kh-listener.service"]);
  }
});

test("canary: the key is in no journal line and no unit file", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const journal = await c.journal();
  assert.ok(journal.includes("kh-app ok"), "the journal holds the services' output");
  assert.ok(!journal.includes(canary), "the key reached the journal");
  assert.ok(!journal.includes(Buffer.from(canary).toString("base64")));
  const units = await c.check(["sh", "-c", "cat /etc/systemd/system/*.service"]);
  assert.ok(!units.stdout.includes(canary));
});

test("an isolated service whose script is under /tmp: keyhold unit refuses it, and systemd shows the refusal is right", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  c.writeFile("/tmp/hidden-app/app.mjs", APP_SOURCE, { mode: 0o644 });
  const refused = await keyholdUnit(c, [
    "kh-under-tmp",
    "--mode",
    "isolated",
    "--exec",
    `/usr/bin/node /tmp/hidden-app/app.mjs my_api_key`,
    "--cred",
    "my_api_key",
    "--install",
  ]);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(
    refused.stderr,
    /an argument of --exec is \/tmp\/hidden-app\/app\.mjs, under \/tmp, which the unit's PrivateTmp=yes hides/,
  );
  assert.equal(
    (await c.run(["test", "-e", "/etc/systemd/system/kh-under-tmp.service"])).code,
    1,
    "nothing installed",
  );
  // What the check prevents: the same unit, rendered for /srv and pointed at /tmp by hand,
  // starts a service that cannot see its own program.
  const rendered = renderUnit({
    service: "kh-under-tmp",
    mode: "isolated",
    exec: `/usr/bin/node ${APP} my_api_key`,
    credentials: ["my_api_key"],
  }).files[0]?.content as string;
  assert.match(rendered, /^PrivateTmp=yes$/m);
  c.writeFile("/etc/systemd/system/kh-under-tmp.service", rendered.replace(APP, "/tmp/hidden-app/app.mjs"), {
    mode: 0o644,
  });
  await c.check(["systemctl", "daemon-reload"]);
  await c.run(["systemctl", "start", "kh-under-tmp.service"]);
  await c.waitForUnit("kh-under-tmp.service", ["inactive", "failed"]);
  assert.notEqual(await c.unitProperty("kh-under-tmp.service", "Result"), "success");
  const journal = await c.journal(["-u", "kh-under-tmp.service", "-o", "cat"]);
  assert.match(journal, /Cannot find module '\/tmp\/hidden-app\/app\.mjs'|ERR_MODULE_NOT_FOUND/);
  assert.ok(!journal.includes(canary), "the journal holds no value");
});
