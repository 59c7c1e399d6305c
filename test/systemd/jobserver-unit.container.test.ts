import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import {
  bootForSuite,
  type ContainerSuite,
  jobServerOutputsCommand,
  jobServerUnitArgs,
  KEYHOLD_INSIDE,
  needContainer,
} from "../harness/index.js";
import { makeCanary } from "../support/scratch.js";

/**
 * The job server's units (`keyhold unit --mode jobserver`) inside a real systemd, with a stand-in
 * server in place of `keyhold serve` so the units are tested on their own: socket activation, the
 * socket's group, the sandbox (DynamicUser=, ProtectHome=tmpfs with BindPaths=, PrivateUsers=,
 * ProcSubset=pid, the system-call filter) letting Node.js run, the project visible read-only and
 * its outputs writable, Restart= after kill -9, and what a developer can and cannot read.
 * test/jobs/ runs the real server under the same units.
 */

const SERVER = "/srv/app/socket-server.mjs";
// Answers each connection with facts about its sandbox, proving it holds the key by its digest.
const SERVER_SOURCE = `import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { loadSecret } from "/opt/keyhold/dist/src/index.js";
const key = await loadSecret("my_api_key");
const digest = createHash("sha256").update(key.exposeBytes()).digest("hex");
let n = 0;
function attempt(fn) { try { fn(); return "ok"; } catch (e) { return e.code ?? "error"; } }
const server = net.createServer((socket) => {
  n++;
  const out = "/home/dev/project/outputs/run-" + process.pid + "-" + n + ".txt";
  const report = {
    uid: process.getuid(), pid: process.pid, digest,
    input: attempt(() => readFileSync("/home/dev/project/src/input.txt")),
    writeOutput: attempt(() => writeFileSync(out, "sha256=" + digest + "\\n")),
    writeSource: attempt(() => writeFileSync("/home/dev/project/src/x", "x")),
    otherHome: attempt(() => readFileSync("/home/other/notes.txt")),
    etc: attempt(() => writeFileSync("/etc/kh-test", "x")),
    state: attempt(() => writeFileSync(process.env.STATE_DIRECTORY + "/probe", "x")),
    home: process.env.HOME,
    inetSocket: spawnSync("/usr/bin/python3", ["-c", "import socket; socket.socket()"]).status === 0 ? "ok" : "refused",
    jobNamespaces: spawnSync("/usr/bin/unshare", ["--user", "--map-root-user", "--mount", "--pid", "--ipc", "--fork", "--mount-proc", "/bin/mount", "-t", "tmpfs", "none", "/tmp"]).status === 0 ? "ok" : "refused",
    netNamespace: spawnSync("/usr/bin/unshare", ["--user", "--net", "/bin/true"]).status === 0 ? "ok" : "refused",
    output: out,
  };
  socket.end(JSON.stringify(report) + "\\n");
});
server.listen({ fd: 3 });
`;
const CLIENT = "/srv/app/client.mjs";
const CLIENT_SOURCE = `import net from "node:net";
const s = net.connect("/run/keyhold/jobs.sock");
let data = "";
s.on("data", (d) => { data += d; });
s.on("end", () => { process.stdout.write(data); });
s.on("error", (e) => { process.stderr.write(e.code + "\\n"); process.exit(7); });
`;

const canary = makeCanary("jobserver");
const digest = createHash("sha256").update(canary).digest("hex");
let suite: ContainerSuite;

before(async () => {
  suite = await bootForSuite({ label: "jobunit" });
  const c = suite.container;
  if (c === undefined) return;
  await c.addUser("dev", { groups: ["devs"] });
  await c.addUser("other");
  await c.check([
    "sh",
    "-c",
    "mkdir -p /home/dev/project/src /home/dev/project/outputs && echo hello > /home/dev/project/src/input.txt && chown -R dev:dev /home/dev/project && chmod 0755 /home/dev",
  ]);
  await c.check(jobServerOutputsCommand("/home/dev/project", "dev"));
  await c.check(["sh", "-c", "echo private > /home/other/notes.txt && chown other /home/other/notes.txt"]);
  c.writeFile(SERVER, SERVER_SOURCE);
  c.writeFile(CLIENT, CLIENT_SOURCE);
  await c.encryptCredential("my_api_key", canary);
  // The host's audit key (keyhold init): the job server gets a key of its own instead.
  await c.encryptCredential("keyhold.audit-key", randomBytes(32).toString("hex"), {
    file: "/var/lib/keyhold/keyhold.audit-key",
  });
});

after(async () => {
  await suite?.stop();
});

interface Report {
  uid: number;
  pid: number;
  digest: string;
  input: string;
  writeOutput: string;
  writeSource: string;
  otherHome: string;
  etc: string;
  state: string;
  home: string;
  inetSocket: string;
  jobNamespaces: string;
  netNamespace: string;
  output: string;
}

test("keyhold unit --mode jobserver installs units that verify inside and start on the first connection", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const installed = await c.run([
    "/usr/bin/node",
    KEYHOLD_INSIDE,
    ...jobServerUnitArgs("/home/dev/project", "--exec", `/usr/bin/node ${SERVER}`, "--cred", "my_api_key"),
  ]);
  assert.equal(installed.code, 0, installed.stderr);
  assert.equal(installed.stderr, "");
  const unit = c.readFile("/etc/systemd/system/keyhold-jobs.service");
  assert.match(
    unit,
    /^LoadCredentialEncrypted=keyhold\.audit-key:\/var\/lib\/keyhold\/keyhold-jobs\.audit-key$/m,
  );
  assert.notEqual(
    c.readFile("/var/lib/keyhold/keyhold-jobs.audit-key"),
    c.readFile("/var/lib/keyhold/keyhold.audit-key"),
  );
  await c.check(["systemctl", "daemon-reload"]);
  await c.check(["systemctl", "start", "keyhold-jobs.socket"]);
  const mode = await c.check(["stat", "-c", "%A %U %G", "/run/keyhold/jobs.sock"]);
  assert.equal(mode.stdout.trim(), "srw-rw---- root devs");
  assert.equal(
    await c.unitProperty("keyhold-jobs.service", "ActiveState"),
    "inactive",
    "socket-activated, not started yet",
  );
});

test("a developer in the socket group triggers it; the sandbox shows the project read-only and its outputs writable", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const reply = await c.runAsUser("dev", ["/usr/bin/node", CLIENT]);
  assert.equal(reply.code, 0, reply.stderr);
  const report = JSON.parse(reply.stdout) as Report;
  assert.equal(report.digest, digest, "the server read the key through loadSecret");
  assert.ok(report.uid >= 61184 && report.uid <= 65519, `uid ${report.uid} is a dynamic one`);
  assert.equal(report.input, "ok", "the project is readable through BindReadOnlyPaths=");
  assert.equal(report.writeOutput, "ok", "outputs are writable through BindPaths=");
  assert.equal(report.writeSource, "EROFS", "the project's code is read-only");
  assert.equal(report.otherHome, "ENOENT", "other homes are hidden (ProtectHome=tmpfs)");
  assert.equal(report.etc, "EROFS", "the OS is read-only (ProtectSystem=strict)");
  assert.equal(report.state, "ok", "StateDirectory= is writable");
  assert.equal(report.home, "/tmp");
  assert.equal(report.inetSocket, "refused", "without --ip-allow the job server has no network at all");
  assert.equal(
    report.jobNamespaces,
    "ok",
    "user, mount, PID and IPC namespaces with mounts inside, for each run",
  );
  assert.equal(report.netNamespace, "refused", "no other kind of namespace (RestrictNamespaces=)");

  // The developer reads the output the job wrote, but neither the key nor the server's memory.
  const output = await c.runAsUser("dev", ["cat", report.output]);
  assert.equal(output.stdout.trim(), `sha256=${digest}`);
  for (const path of [
    "/run/credentials/keyhold-jobs.service/my_api_key",
    `/proc/${report.pid}/environ`,
    `/proc/${report.pid}/mem`,
  ]) {
    const read = await c.runAsUser("dev", ["cat", path]);
    assert.notEqual(read.code, 0, `dev could read ${path}`);
    assert.ok(!read.stdout.includes(canary));
  }
});

test("a user outside the socket group cannot connect", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const reply = await c.runAsUser("other", ["/usr/bin/node", CLIENT]);
  assert.equal(reply.code, 7);
  assert.equal(reply.stderr.trim(), "EACCES");
});

test("kill -9 of the server: systemd restarts it and the socket keeps serving", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  await c.waitForUnit("keyhold-jobs.service", ["active"]);
  const before = await c.unitProperty("keyhold-jobs.service", "MainPID");
  await c.check(["kill", "-9", before]);
  let after = before;
  for (let i = 0; i < 200 && (after === before || after === "0"); i++) {
    await new Promise((r) => setTimeout(r, 50));
    after = await c.unitProperty("keyhold-jobs.service", "MainPID");
  }
  assert.notEqual(after, before, "a new main process");
  assert.notEqual(after, "0");
  assert.equal(await c.unitProperty("keyhold-jobs.service", "NRestarts"), "1");
  const reply = await c.runAsUser("dev", ["/usr/bin/node", CLIENT]);
  assert.equal(reply.code, 0, reply.stderr);
  assert.equal((JSON.parse(reply.stdout) as Report).digest, digest);
});

test("canary: the key is in no journal line", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const journal = await c.journal();
  assert.match(journal, /keyhold-jobs/);
  assert.ok(!journal.includes(canary));
});
