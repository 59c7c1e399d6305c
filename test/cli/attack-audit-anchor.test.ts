/**
 * Attacks on the audit log's anchor by someone who can remove files in the state directory but
 * cannot read the audit key.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  AUDIT_ANCHOR_FILE,
  AUDIT_KEY_NAME,
  createAuditKeyFile,
  loadAuditKey,
} from "../../src/audit/index.js";
import { follow, startServer, type TestServer, waitFor } from "../jobs/support.js";
import { initWorld, runCli, runCliOk } from "../support/cli.js";
import { makeScratch, type Scratch } from "../support/scratch.js";

describe("audit anchor: a key given through $CREDENTIALS_DIRECTORY", () => {
  let s: Scratch;
  let creds: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    s = await initWorld("keyhold-attack-anchor-");
    // A service's state directory: its key comes from systemd, not from a file beside the log.
    creds = mkdtempSync("/dev/shm/keyhold-attack-creds-");
    writeFileSync(join(creds, "keyhold.audit-key"), randomBytes(32).toString("hex"), { mode: 0o400 });
    const state = s.env.KEYHOLD_STATE as string;
    for (const f of readdirSync(state))
      if (f.startsWith("audit.log") || f.startsWith("keyhold.audit-")) rmSync(join(state, f));
    env = { ...s.env, CREDENTIALS_DIRECTORY: creds };
  });
  after(() => {
    s.cleanup();
    rmSync(creds, { recursive: true, force: true });
  });

  it("a log whose key was made elsewhere is not started by the first append, only deliberately", async () => {
    const state = s.env.KEYHOLD_STATE as string;
    const set = await runCli(["set", "first"], { env, input: "v" });
    assert.match(set.stderr, /\[AUDIT_TAMPERED\]/, "nothing tells a new state directory from a deleted log");
    assert.equal(existsSync(join(state, "audit.log")), false, "the refused append created nothing");
    await runCliOk(["audit", "--restart"], { env });
    assert.ok(existsSync(join(state, AUDIT_ANCHOR_FILE)), "the restart wrote the anchor");
  });

  it("removing audit.log, its head and the anchor is seen by verify and refused by the next append", async () => {
    const state = s.env.KEYHOLD_STATE as string;
    await runCliOk(["set", "a"], { env, input: "v" });
    await runCliOk(["set", "b"], { env, input: "v" });
    for (const f of ["audit.log", "audit.log.head", "keyhold.audit-anchor"]) rmSync(join(state, f));
    const verify = await runCli(["audit", "--verify"], { env });
    const set = await runCli(["set", "c"], { env, input: "v" });
    assert.notEqual(verify.code, 0, `verify after the deletion: ${verify.stdout}`);
    assert.match(verify.stderr, /audit: deleted: the log, its head and its anchor are gone/);
    assert.match(set.stderr, /\[AUDIT_TAMPERED\]/, "the next append must refuse");
  });
});

describe("audit anchor: the job server's own log", () => {
  let s: Scratch;
  let server: TestServer;
  let sealedKey: string;

  before(async () => {
    s = makeScratch("keyhold-attack-jobs-anchor-");
    // What `keyhold unit --mode jobserver --install` does: the server's key, sealed in keyhold's
    // state directory, and its log's anchor in the server's own state directory.
    const keyholdState = join(s.root, "keyhold-state");
    mkdirSync(keyholdState, { mode: 0o700 });
    sealedKey = join(keyholdState, "keyhold-jobs.audit-key");
    const installed = join(s.root, "installed-anchor");
    mkdirSync(installed, { mode: 0o700 });
    await createAuditKeyFile(sealedKey, { env: s.env }, join(installed, AUDIT_ANCHOR_FILE));
    const key = await loadAuditKey(keyholdState, { env: s.env }, sealedKey);
    server = await startServer({
      config: ({ root, outputs }) => ({
        jobs: { noop: { argv: ["/bin/true"], cwd: root, outputDir: outputs } },
      }),
      prepare: async ({ root, state }) => {
        // systemd's part: the decrypted key in $CREDENTIALS_DIRECTORY, the state directory
        // with what the install put there.
        writeFileSync(join(root, "credentials", AUDIT_KEY_NAME), key.exposeBytes().toString("hex"), {
          mode: 0o400,
        });
        mkdirSync(state, { mode: 0o700 });
        writeFileSync(join(state, AUDIT_ANCHOR_FILE), readFileSync(join(installed, AUDIT_ANCHOR_FILE)), {
          mode: 0o600,
        });
      },
    });
    key.dispose();
  });
  after(async () => {
    await server.cleanup();
    s.cleanup();
  });

  it("deleting the server's log and head is reported by root's verify", async () => {
    for (let i = 0; i < 2; i++) assert.equal((await follow(server.socket, "noop")).status, 200);
    await waitFor("both runs in the server's audit log", () =>
      (readFileSync(join(server.state, "audit.log"), "utf8").match(/"op":"job\.run"/g) ?? []).length === 2
        ? true
        : undefined,
    );
    assert.doesNotMatch(server.stderr(), /not audited|cannot be audited/);
    const verifyArgs = ["audit", "--verify", "--state", server.state, "--key", sealedKey];
    await runCliOk(verifyArgs, { env: s.env });
    await server.stop();
    for (const f of ["audit.log", "audit.log.head"]) rmSync(join(server.state, f));
    const verify = await runCli(verifyArgs, { env: s.env });
    assert.equal(verify.code, 3, `verify after the deletion: ${verify.stdout}`);
    assert.match(verify.stderr, /audit: deleted \(seq 2\): the log and its head are gone/);
    await server.restart();
    assert.match(
      server.stderr(),
      /job runs cannot be audited: refusing to start a new audit log .*: the log and its head are gone, but its anchor seals seq 2/,
    );
    await follow(server.socket, "noop");
    await waitFor("the failed append in the server's log", () =>
      /audit append failed: refusing to start a new audit log/.test(server.stderr()) ? true : undefined,
    );
    assert.equal(existsSync(join(server.state, "audit.log")), false, "no new chain was started");
    await server.stop();
  });

  it("deleting the anchor as well is reported too, and the restarted server refuses to start a new chain", async () => {
    rmSync(join(server.state, AUDIT_ANCHOR_FILE));
    const verify = await runCli(["audit", "--verify", "--state", server.state, "--key", sealedKey], {
      env: s.env,
    });
    assert.equal(verify.code, 3);
    assert.match(verify.stderr, /audit: deleted: the log, its head and its anchor are gone/);
    await server.restart();
    assert.match(
      server.stderr(),
      /job runs cannot be audited: refusing to start a new audit log .*: the log, its head and its anchor are gone/,
    );
    await follow(server.socket, "noop");
    assert.equal(existsSync(join(server.state, "audit.log")), false, "no new chain was started");
  });
});
