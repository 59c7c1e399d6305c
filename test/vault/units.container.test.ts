import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import {
  bootForSuite,
  type Container,
  type ContainerSuite,
  jobServerOutputsCommand,
  jobServerUnitArgs,
  keyholdInside as keyhold,
  needContainer,
} from "../harness/index.js";
import { vaultUnitPrefix } from "../../src/units/index.js";
import { makeCanary } from "../support/scratch.js";

/**
 * Vault secrets for units, inside a real systemd: `keyhold unit keyhold-jobs --mode jobserver
 * --vault billing/openai` makes systemd ask a root, per-request `keyhold vault serve-credential`
 * for the secret at each start of the job server; a job triggered by a developer uses it; the
 * vault's policy for plugin keyhold-jobs decides, every answer and refusal is audited, a revoked
 * grant fails the service with 243/CREDENTIALS, and a request from anything but the service
 * itself gets nothing.
 */

const PROJECT = "/home/dev/project";
const JOB_SCRIPT = `#!/bin/sh
set -e
key=$(cat "$CREDENTIALS_DIRECTORY/openai")
echo "using key $key"
printf 'sha256=%s\\n' "$(printf %s "$key" | sha256sum | cut -d' ' -f1)" > ${PROJECT}/outputs/result-$KEYHOLD_RUN_ID.txt
echo "wrote result-$KEYHOLD_RUN_ID.txt"
`;
const CONFIG = {
  jobs: {
    report: {
      argv: [`${PROJECT}/job.sh`],
      cwd: PROJECT,
      credentials: ["openai"],
      outputDir: `${PROJECT}/outputs`,
      timeoutSeconds: 60,
    },
  },
};
// A root process that is not the service asks the socket directly: it must get nothing.
const IMPOSTOR = "/srv/impostor.mjs";
const IMPOSTOR_SOURCE = `import { connect } from "node:net";
const s = connect(process.argv[2]);
let n = 0;
s.on("data", (d) => { n += d.length; });
s.on("close", () => { process.stdout.write(JSON.stringify({ bytes: n })); });
s.on("error", (e) => { process.stdout.write(JSON.stringify({ error: e.code })); });
`;
const SOCKET = "/run/keyhold-vault/keyhold-jobs/billing/openai";
const ANSWERER = vaultUnitPrefix("keyhold-jobs", { ns: "billing", name: "openai" });

const first = makeCanary("vaultunit");
const second = makeCanary("vaultunit");
const other = makeCanary("vaultunit");
const sha = (v: string) => createHash("sha256").update(v).digest("hex");
let suite: ContainerSuite;

function assertNoCanary(text: string, where: string): void {
  for (const v of [first, second, other]) {
    for (const form of [v, Buffer.from(v).toString("base64"), Buffer.from(v).toString("hex")])
      assert.ok(!text.includes(form), `${where} holds a secret value`);
  }
}

async function trigger(c: Container): Promise<{ stdout: string; digest: string }> {
  const r = await c.runAsUser("dev", keyhold("trigger", "report", "--follow"));
  assert.equal(r.code, 0, r.stderr + (await c.journal(["-n", "60"])));
  const file = /wrote (result-\S+\.txt)/.exec(r.stdout)?.[1];
  assert.ok(file, r.stdout);
  const digest = (await c.check(["cat", `${PROJECT}/outputs/${file}`])).stdout.trim();
  return { stdout: r.stdout + r.stderr, digest };
}

async function vaultAudit(c: Container): Promise<Array<Record<string, unknown>>> {
  const r = await c.check(keyhold("vault", "audit", "--json"));
  const parsed = JSON.parse(r.stdout) as { records?: unknown[] } | unknown[];
  return (Array.isArray(parsed) ? parsed : (parsed.records ?? [])) as Array<Record<string, unknown>>;
}

before(async () => {
  suite = await bootForSuite({ label: "vaultunit" });
  const c = suite.container;
  if (c === undefined) return;
  await c.addUser("dev", { groups: ["devs"] });
  await c.check(["sh", "-c", `mkdir -p ${PROJECT} && chmod 0755 /home/dev`]);
  c.writeFile(`${PROJECT}/job.sh`, JOB_SCRIPT, { mode: 0o755 });
  await c.check(["chown", "-R", "dev:dev", PROJECT]);
  await c.check(jobServerOutputsCommand(PROJECT, "dev"));
  c.writeFile("/etc/keyhold/jobs.json", `${JSON.stringify(CONFIG, null, 2)}\n`);
  c.writeFile(IMPOSTOR, IMPOSTOR_SOURCE);
  await c.check(keyhold("init"));
  await c.check(keyhold("vault", "init"));
  await c.check(keyhold("vault", "put", "billing/openai"), { input: first });
  await c.check(keyhold("vault", "put", "billing/other"), { input: other });
});

after(async () => {
  await suite?.stop();
});

test("keyhold unit --vault installs the job server with a root answering socket only root can reach", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const installed = await c.run(keyhold(...jobServerUnitArgs(PROJECT, "--vault", "billing/openai")));
  assert.equal(installed.code, 0, installed.stderr);
  // The unit declares what it needs in the vault's policy; the grant stays the admin's decision,
  // and comes before the first start.
  const lines = installed.stdout.split("\n");
  const declared = lines.indexOf("declared: plugin keyhold-jobs needs billing/openai (read)");
  const grant = lines.findIndex((l) =>
    l.startsWith("next: keyhold vault grant keyhold-jobs billing/openai --ops read"),
  );
  const start = lines.findIndex((l) =>
    l.startsWith("next: systemctl daemon-reload && systemctl enable --now"),
  );
  assert.ok(declared >= 0 && grant > declared && start > grant, installed.stdout);
  assert.match(lines[start] ?? "", new RegExp(`keyhold-jobs\\.socket ${ANSWERER}\\.socket$`));
  const policy = JSON.parse((await c.check(keyhold("vault", "policy", "--json"))).stdout);
  assert.deepEqual(policy.manifests["keyhold-jobs"].needs, [
    { ns: "billing", name: "openai", ops: ["read"] },
  ]);
  assert.equal(policy.grants["keyhold-jobs"], undefined, "installing a unit grants nothing");
  const refused = await c.run(keyhold("vault", "grant", "keyhold-jobs", "billing/other", "--ops", "read"));
  assert.equal(refused.code, 1, "a secret the unit did not declare cannot be granted to it");
  await c.check(keyhold("vault", "grant", "keyhold-jobs", "billing/openai", "--ops", "read"));
  const service = c.readFile("/etc/systemd/system/keyhold-jobs.service");
  assert.match(service, new RegExp(`^LoadCredentialEncrypted=openai:${SOCKET}$`, "m"));
  await c.check(["systemctl", "daemon-reload"]);
  await c.check(["systemctl", "start", `${ANSWERER}.socket`, "keyhold-jobs.socket"]);
  assert.equal((await c.check(["stat", "-c", "%a %U", "/run/keyhold-vault"])).stdout.trim(), "700 root");
  assert.equal((await c.check(["stat", "-c", "%a %U", SOCKET])).stdout.trim(), "600 root");
  const asDev = await c.runAsUser("dev", ["/usr/bin/node", IMPOSTOR, SOCKET]);
  assert.match(asDev.stdout, /"error":"EACCES"/, "a user cannot even reach the socket");
  for (const f of ["keyhold-jobs.service", `${ANSWERER}.socket`, `${ANSWERER}@.service`])
    assertNoCanary(c.readFile(`/etc/systemd/system/${f}`), f);
});

test("a job triggered by a developer gets the vault secret; the read is audited for plugin keyhold-jobs", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const run = await trigger(c);
  assert.equal(run.digest, `sha256=${sha(first)}`, "the job held the vault's value");
  assert.match(
    run.stdout,
    /^using key \[REDACTED:openai\]$/m,
    "the server scrubs a vault secret like any other",
  );
  assertNoCanary(run.stdout, "the trigger output");

  const records = await vaultAudit(c);
  const read = records.find(
    (r) =>
      r.op === "vault.get" &&
      r.name === "billing/openai" &&
      r.result === "ok" &&
      (r.detail as Record<string, unknown> | undefined)?.plugin === "keyhold-jobs",
  );
  assert.ok(read, `no audited read by keyhold-jobs in ${JSON.stringify(records.slice(-5))}`);
  const verify = await c.run(keyhold("vault", "audit", "verify"));
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);

  // Only sockets under the answering tree; the value is in no log, audit record or unit state.
  const files = await c.check(["find", "/run/keyhold-vault", "-not", "-type", "d", "-not", "-type", "s"]);
  assert.equal(files.stdout.trim(), "", "nothing but sockets under /run/keyhold-vault");
  assertNoCanary(await c.journal(), "the journal");
  assertNoCanary(c.readFile("/var/lib/keyhold/audit.log"), "the audit log");
});

test("a new version reaches the service at its next start", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  await c.check(keyhold("vault", "put", "billing/openai"), { input: second });
  await c.check(["systemctl", "restart", "keyhold-jobs.service"]);
  const run = await trigger(c);
  assert.equal(run.digest, `sha256=${sha(second)}`);
});

test("a revoked grant fails the service with 243/CREDENTIALS and leaves it failed, repeated starts end in a lockout, and granting again clears it", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const serverStarts = async () =>
    (await c.journal(["-u", "keyhold-jobs.service"])).match(/keyhold serve: listening/g)?.length ?? 0;
  const startsBefore = await serverStarts();
  await c.check(keyhold("vault", "revoke", "keyhold-jobs", "billing/openai"));
  const revokedAt = Math.max(
    ...(await vaultAudit(c)).filter((r) => r.op === "vault.revoke").map((r) => Number(r.seq)),
  );
  await c.run(["systemctl", "restart", "keyhold-jobs.service"]);
  // RestartPreventExitStatus=243: the refused start leaves the unit failed, with no automatic
  // restart, however long the refusal took (systemd's start limit stops only quick restarts).
  const deadline = Date.now() + 120_000;
  let state = "";
  let restarts = "0";
  while (Date.now() < deadline) {
    state = await c.unitProperty("keyhold-jobs.service", "ActiveState");
    restarts = await c.unitProperty("keyhold-jobs.service", "NRestarts");
    if (state === "failed" || restarts !== "0") break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.equal(restarts, "0", "systemd restarted the unit after its credential was refused");
  assert.equal(state, "failed");
  assert.equal(await c.unitProperty("keyhold-jobs.service", "ExecMainStatus"), "243");
  const deniedReads = async () =>
    (await vaultAudit(c)).filter(
      (r) =>
        r.op === "vault.get" &&
        r.result === "denied" &&
        (r.detail as Record<string, unknown> | undefined)?.plugin === "keyhold-jobs",
    );
  // An operator retrying is what makes five denials now, and the fifth locks the plugin out.
  while ((await deniedReads()).length < 5 && Date.now() < deadline) {
    await c.run(["systemctl", "reset-failed", "keyhold-jobs.service"]);
    await c.run(["systemctl", "start", "keyhold-jobs.service"]);
    await c.waitForUnit("keyhold-jobs.service", ["failed"], 60_000);
  }
  await c.run(["systemctl", "stop", "keyhold-jobs.service"]);
  await c.run(["systemctl", "reset-failed", "keyhold-jobs.service"]);
  // Nothing was handed out after the revoke, and the job server did not start once.
  const given = (await vaultAudit(c)).filter(
    (r) =>
      Number(r.seq) > revokedAt &&
      r.op === "vault.get" &&
      r.result === "ok" &&
      (r.detail as Record<string, unknown> | undefined)?.plugin === "keyhold-jobs",
  );
  assert.deepEqual(given, [], "a read succeeded after the revoke");
  assert.equal(await serverStarts(), startsBefore, "the job server started after the revoke");
  const denied = await deniedReads();
  assert.ok(denied.length >= 5, `denials: ${denied.length}`);
  assert.ok(denied.some((r) => r.code === "ACCESS_DENIED"));
  const unitJournal = await c.journal(["-u", "keyhold-jobs.service"]);
  assert.match(unitJournal, /Main process exited, code=exited, status=243\/CREDENTIALS/);
  const lockouts = JSON.parse(
    (await c.check(["sh", "-c", "cat /var/lib/keyhold/vault-*.lockouts.json"])).stdout,
  ) as { plugins: Record<string, { lockedUntil?: number }> };
  assert.ok(
    (lockouts.plugins["keyhold-jobs"]?.lockedUntil ?? 0) > Date.now() - 60_000,
    "the plugin is locked out",
  );
  const journal = await c.journal(["-n", "300"]);
  assert.match(journal, /may not read billing\/openai \[ACCESS_DENIED\]/);
  assertNoCanary(journal, "the journal");

  // The administrator's grant is the answer to those denials: it ends the lockout too.
  await c.check(keyhold("vault", "grant", "keyhold-jobs", "billing/openai", "--ops", "read"));
  const unlocked = (await vaultAudit(c)).find(
    (r) => r.op === "vault.unlock" && (r.detail as Record<string, unknown> | undefined)?.by === "grant",
  );
  assert.ok(unlocked, "the grant's unlock is audited");
  await c.run(["systemctl", "reset-failed", "keyhold-jobs.service"]);
  await c.check(["systemctl", "start", "keyhold-jobs.service"]);
  const run = await trigger(c);
  assert.equal(run.digest, `sha256=${sha(second)}`, "granted again, it starts again at once");
});

test("a root process in a look-alike cgroup named like the service gets nothing, and is audited", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  // Both hierarchies of a hybrid host, so neither the unified nor the named one tells the truth.
  const r = await c.run([
    "sh",
    "-c",
    `for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
       [ -e "$h/cgroup.procs" ] || continue
       mkdir -p "$h/evil/keyhold-jobs.service" && echo $$ > "$h/evil/keyhold-jobs.service/cgroup.procs"
     done
     cat /proc/self/cgroup >&2
     exec /usr/bin/node ${IMPOSTOR} ${SOCKET}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /\/evil\/keyhold-jobs\.service/, "the impostor sat in the look-alike cgroup");
  assert.deepEqual(JSON.parse(r.stdout), { bytes: 0 });
  const refused = (await vaultAudit(c)).filter(
    (rec) => rec.op === "vault.serve-credential" && rec.code === "PEER_UNVERIFIED",
  );
  assert.ok(
    refused.some(
      (rec) => (rec.detail as Record<string, unknown> | undefined)?.cgroup === "/evil/keyhold-jobs.service",
    ),
    JSON.stringify(refused),
  );
});

test("a root process that is not the service gets nothing from the socket, and the attempt is audited", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const r = await c.check(["/usr/bin/node", IMPOSTOR, SOCKET]);
  assert.deepEqual(JSON.parse(r.stdout), { bytes: 0 });
  const refused = (await vaultAudit(c)).filter(
    (rec) => rec.op === "vault.serve-credential" && rec.code === "PEER_UNVERIFIED",
  );
  assert.ok(refused.length > 0, "the impostor's request is audited");
  const journal = await c.journal(["-n", "100"]);
  assert.match(journal, /not from keyhold-jobs\.service \[PEER_UNVERIFIED\]/);
});
