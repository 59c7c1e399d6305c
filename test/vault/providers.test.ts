import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { isSecretError, Secret } from "../../src/secret/index.js";
import { FileBackend, passphraseProvider, VAULT_FILE } from "../../src/vault/index.js";
import { makeCanary } from "../support/scratch.js";
import { everyFileUnder, makeVaultWorld } from "./support.js";

const code = (c: string) => (err: unknown) => isSecretError(err) && err.code === c;
// Small Argon2id cost so the tests stay fast; the stored parameters are what matters.
const FAST = { ops: 2, mem: 8 * 1024 * 1024 };

test("passphrase provider: Argon2id parameters stored, wrong passphrase refused, weakened parameters fail", async () => {
  const world = await makeVaultWorld();
  try {
    const pass = Secret.fromString("correct horse battery staple");
    const provider = passphraseProvider({ passphrase: pass, argon2: FAST });
    const vault = await world.init({ provider });
    await vault.put("app/key", "passphrase-protected");
    vault.close();

    const backend = new FileBackend({ dir: world.vaultDir });
    const rec = await backend.read("master/passphrase");
    assert.ok(rec);
    const body = JSON.parse(JSON.parse(rec.value).b);
    assert.deepEqual(
      [body.alg, body.ops, body.mem, Buffer.from(body.salt, "base64").length],
      ["argon2id13", 2, 8388608, 16],
    );

    const wrong = passphraseProvider({ passphrase: Secret.fromString("wrong"), argon2: FAST });
    await assert.rejects(world.open({ provider: wrong }), code("WRONG_PASSPHRASE"));
    const right = await world.open({ provider });
    assert.equal((await right.get("app/key")).expose(), "passphrase-protected");

    // Re-authentication: master rotation and grants need the passphrase again.
    await assert.rejects(right.rotateMaster(), code("REAUTH_REQUIRED"));
    await assert.rejects(
      right.rotateMaster({ passphrase: Secret.fromString("nope") }),
      code("WRONG_PASSPHRASE"),
    );
    assert.equal((await right.rotateMaster({ passphrase: pass })).version, 2);
    right.close();
    const again = await world.open({ provider });
    assert.equal((await again.get("app/key")).expose(), "passphrase-protected");
    again.close();

    // Lowering the stored cost changes the derived key: the AEAD refuses (no downgrade).
    const path = join(world.vaultDir, VAULT_FILE);
    const doc = JSON.parse(readFileSync(path, "utf8"));
    const env = JSON.parse(doc.records["master/passphrase"].v);
    const b = JSON.parse(env.b);
    b.ops = 1;
    env.b = JSON.stringify(b);
    doc.records["master/passphrase"].v = JSON.stringify(env);
    writeFileSync(path, JSON.stringify(doc));
    await assert.rejects(world.open({ provider }), code("WRONG_PASSPHRASE"));
  } finally {
    world.cleanup();
  }
});

test("systemd-credential provider: the master is a systemd credential; a service's $CREDENTIALS_DIRECTORY copy is used", async () => {
  const world = await makeVaultWorld();
  try {
    const vault = await world.init();
    await vault.put("svc/key", "from-service");
    vault.close();
    const credential = readFileSync(join(world.scratch.store, "keyhold-vault-master"), "utf8");
    assert.match(credential, /^[A-Za-z0-9+/=\s]+$/, "base64 ciphertext as systemd-creds writes it");
    // What systemd would place in $CREDENTIALS_DIRECTORY for LoadCredentialEncrypted=keyhold-vault-master.
    const decrypted = spawnSync("systemd-creds", ["decrypt", "--name=keyhold-vault-master", "-", "-"], {
      input: readFileSync(join(world.scratch.store, "keyhold-vault-master")),
      env: world.scratch.env,
    });
    assert.equal(decrypted.status, 0);
    assert.equal(decrypted.stdout.length, 32);
    const { mkdirSync } = await import("node:fs");
    const credDir = join(world.scratch.root, "creds");
    mkdirSync(credDir, { mode: 0o700 });
    writeFileSync(join(credDir, "keyhold-vault-master"), decrypted.stdout, { mode: 0o400 });
    const { systemdCredentialProvider } = await import("../../src/vault/index.js");
    // The store copy is unreadable here (no host key), so only the directory copy can open it.
    const serviceEnv = {
      PATH: world.scratch.env.PATH,
      CREDENTIALS_DIRECTORY: credDir,
      SYSTEMD_CREDENTIAL_SECRET: "/nonexistent",
    };
    const inService = systemdCredentialProvider({ dir: join(world.scratch.root, "empty"), env: serviceEnv });
    const opened = await world.open({ provider: inService });
    assert.equal((await opened.get("svc/key")).expose(), "from-service");
    opened.close();
    await assert.rejects(world.init(), code("VAULT_EXISTS"));
  } finally {
    world.cleanup();
  }
});

test("systemd-credential provider: prefetch() unseals ahead for the next candidates() only; release() leaves a taken master alone", async () => {
  const world = await makeVaultWorld();
  try {
    const vault = await world.init();
    await vault.put("app/key", "opened-with-an-early-master");
    vault.close();
    const { systemdCredentialProvider } = await import("../../src/vault/index.js");
    const provider = systemdCredentialProvider({ dir: world.scratch.store, env: world.scratch.env });
    assert.ok(provider.prefetch, "a systemd credential needs nothing of the store to be unsealed");

    // Taken: the open uses the early master, and releasing afterwards wipes nothing it holds.
    const taken = provider.prefetch();
    const opened = await world.open({ provider });
    taken.release();
    assert.equal((await opened.get("app/key")).expose(), "opened-with-an-early-master");
    assert.equal((await opened.rotateKek()).version, 2, "the master still derives new KEKs after release()");
    opened.close();

    // Not taken: release() drops it, and the next open unseals the master again.
    provider.prefetch().release();
    const again = await world.open({ provider });
    assert.equal((await again.get("app/key")).expose(), "opened-with-an-early-master");
    again.close();

    // A failed early decrypt is thrown by the candidates() that takes it, not as an unhandled rejection.
    const broken = systemdCredentialProvider({
      dir: world.scratch.store,
      env: { ...world.scratch.env, SYSTEMD_CREDENTIAL_SECRET: join(world.scratch.root, "no-such-key") },
    });
    broken.prefetch?.();
    await assert.rejects(world.open({ provider: broken }));
  } finally {
    world.cleanup();
  }
});

test("keyring provider against a real gnome-keyring-daemon in a private D-Bus session", async (t) => {
  const have = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
  if (!have("dbus-run-session") || !have("gnome-keyring-daemon")) {
    t.skip("dbus-run-session or gnome-keyring-daemon is not installed (scripts/setup.sh installs them)");
    return;
  }
  const world = await makeVaultWorld();
  try {
    const canary = makeCanary("keyring");
    const worker = join(import.meta.dirname, "fixtures", "keyring-worker.js");
    const home = join(world.scratch.root, "home");
    const script = `printf 'test-login' | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; exec "$0" "$1" "$2"`;
    const run = spawnSync(
      "dbus-run-session",
      ["--", "sh", "-c", script, process.execPath, worker, world.scratch.root],
      {
        env: {
          PATH: world.scratch.env.PATH,
          HOME: home,
          XDG_DATA_HOME: join(home, "data"),
          XDG_RUNTIME_DIR: join(home, "run"),
          KEYHOLD_TEST_VALUE: canary,
        },
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    const line = run.stdout.trim().split("\n").at(-1) ?? "";
    assert.equal(run.status, 0, `worker failed: ${run.stderr.slice(-600)}`);
    const summary = JSON.parse(line);
    assert.deepEqual(summary, {
      first: true,
      afterRotation: true,
      versions: { master: 2, kek: 2, keks: [2] },
      itemBytes: 32,
      staged: false,
    });
    for (const { path, bytes } of everyFileUnder(join(world.scratch.root, "state"))) {
      assert.ok(!bytes.includes(Buffer.from(canary)), `canary in ${path}`);
    }
  } finally {
    world.cleanup();
  }
});
