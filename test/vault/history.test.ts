import assert from "node:assert/strict";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { isSecretError, Secret } from "../../src/secret/index.js";
import { CHAIN_SEGMENT } from "../../src/vault/history.js";
import { MASTER_CREDENTIAL } from "../../src/vault/providers.js";
import { FileBackend, joinVault, openVault, passphraseProvider, VAULT_FILE } from "../../src/vault/index.js";
import { STORE_ARGON2, type StoreExpectations } from "../vectors/generate-vault-store.js";
import { makeVaultWorld, type VaultWorld } from "./support.js";

/**
 * The store's head history and each host's memory of it (docs/vault-format.md sections 4 and 7),
 * on the file backend: two "hosts" are two state directories with their own master copies.
 */

const code = (c: string) => (err: unknown) => isSecretError(err) && err.code === c;

function seenFile(w: VaultWorld): string {
  const name = readdirSync(w.scratch.state).find((f) => f.endsWith(".seen"));
  assert.ok(name, "the host remembers the store");
  return join(w.scratch.state, name);
}

function records(w: VaultWorld): Record<string, { r: number; v: string }> {
  return JSON.parse(readFileSync(join(w.vaultDir, VAULT_FILE), "utf8")).records;
}

function body(w: VaultWorld, key: string): Record<string, unknown> {
  const rec = records(w)[key];
  assert.ok(rec, `record ${key}`);
  return JSON.parse(JSON.parse(rec.v).b);
}

test("a fork is found however far back the history holds the head a host saw", async () => {
  const a = await makeVaultWorld("keyhold-history-a-");
  const b = await makeVaultWorld("keyhold-history-b-");
  try {
    const vaultA = await a.init();
    await vaultA.put("app/key", "one");
    const master = await vaultA.exportMaster();
    (await joinVault({ ...b.options, backend: a.backend, master })).close();
    master.dispose();
    const path = join(a.vaultDir, VAULT_FILE);
    const older = readFileSync(path);
    await vaultA.put("app/key", "two (lost by the restore)");
    vaultA.close();
    writeFileSync(path, older);

    // B writes more than two history records' worth on top of the old copy.
    const fast = new FileBackend({ dir: a.vaultDir, shred: false });
    const writer = await openVault({ ...b.options, backend: fast });
    for (let i = 0; i < 2 * CHAIN_SEGMENT + 10; i++) await writer.put("app/counter", `b-${i}`);
    const report = await writer.verify();
    assert.deepEqual([report.ok, report.history], [true, "unchanged"]);
    writer.close();
    assert.ok(records(a)["chain/2"], "the history spans three records");
    assert.deepEqual(body(a, "chain/1").first, CHAIN_SEGMENT);

    await assert.rejects(a.open(), code("VAULT_FORKED"));
    // B, whose own history this is, still opens it: the history links back to what it saw.
    const again = await openVault({ ...b.options, backend: fast });
    assert.equal((await again.verify()).history, "unchanged");
    again.close();
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

test("a host that saw an early generation accepts a store that grew past several history records", async () => {
  const a = await makeVaultWorld("keyhold-history-a-");
  const b = await makeVaultWorld("keyhold-history-b-");
  try {
    const vaultA = await a.init({ backend: new FileBackend({ dir: a.vaultDir, shred: false }) });
    const master = await vaultA.exportMaster();
    (await joinVault({ ...b.options, backend: a.backend, master })).close();
    master.dispose();
    const seenByB = JSON.parse(readFileSync(seenFile(b), "utf8"));
    for (let i = 0; i < CHAIN_SEGMENT + 5; i++) await vaultA.put("app/key", `a-${i}`);
    vaultA.close();
    const later = await openVault({ ...b.options, backend: a.backend });
    const report = await later.verify();
    assert.equal(report.ok, true, report.problems.join("; "));
    later.close();
    const now = JSON.parse(readFileSync(seenFile(b), "utf8"));
    assert.equal(now.host, seenByB.host, "the host keeps its identity");
    assert.equal(now.generation, seenByB.generation + CHAIN_SEGMENT + 5);
    assert.equal(now.head, JSON.parse(records(a).head?.v ?? "{}").m, "it remembers the head's MAC");
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

test("host memory from before format 2 (a bare generation) still catches a rollback, then learns the head", async () => {
  const world = await makeVaultWorld();
  try {
    // The format 1 store kept in the vectors, as the keyhold of that format wrote it: a host with
    // memory from then remembers a bare generation.
    const source = join(import.meta.dirname, "..", "..", "..", "test", "vectors", "vault-stores", "format-1");
    const expect = JSON.parse(readFileSync(join(source, "expect.json"), "utf8")) as StoreExpectations;
    mkdirSync(world.vaultDir, { mode: 0o700 });
    copyFileSync(join(source, VAULT_FILE), join(world.vaultDir, VAULT_FILE));
    const meta = body(world, "meta") as { storeId: string };
    const generation = body(world, "head").generation as number;
    const seen = join(
      world.scratch.state,
      `vault-${Buffer.from(meta.storeId, "base64").toString("hex")}.seen`,
    );
    const pass = Secret.fromString(expect.passphrase);
    const provider = passphraseProvider({ passphrase: pass, argon2: STORE_ARGON2 });
    const backend = new FileBackend({ dir: world.vaultDir, shred: false });

    writeFileSync(seen, `${generation + 5}\n`, { mode: 0o600 });
    await assert.rejects(world.open({ backend, provider }), code("VAULT_ROLLBACK"));

    // Another host writes: its first commit upgrades the store, whose history starts there.
    writeFileSync(seen, `${generation}\n`, { mode: 0o600 });
    const other = join(world.scratch.root, "other-state");
    mkdirSync(other, { mode: 0o700 });
    const writer = await openVault({ backend, provider, stateDir: other });
    await writer.put("app/key", "one");
    writer.close();
    assert.equal(body(world, "head").since, generation + 1);

    const v = await world.open({ backend, provider });
    const report = await v.verify();
    assert.deepEqual([report.ok, report.history, report.firstSight], [true, "unchanged", true]);
    v.close();
    const learnt = JSON.parse(readFileSync(seen, "utf8"));
    assert.equal(learnt.generation, generation + 1);
    assert.equal(learnt.head, JSON.parse(records(world).head?.v ?? "{}").m, "it remembers the head's MAC");
    assert.match(learnt.host, /^[0-9a-f]{32}$/);
    const audit = await world.audit.read();
    assert.ok(audit.some((r) => r.op === "vault.first-sight" && r.detail?.generation === generation + 1));
    pass.dispose();
  } finally {
    world.cleanup();
  }
});

test("a damaged host memory refuses the store instead of trusting it as new", async () => {
  const world = await makeVaultWorld();
  try {
    (await world.init()).close();
    const seen = seenFile(world);
    const pristine = readFileSync(seen, "utf8");
    for (const [label, text] of [
      ["not JSON", "{generation"],
      ["wrong type", JSON.stringify({ generation: "7", head: null, host: null })],
      ["bad head", JSON.stringify({ generation: 1, head: "short", host: null })],
      ["negative", JSON.stringify({ generation: -1, head: null, host: null })],
      ["bad retired master", JSON.stringify({ generation: 1, head: null, host: null, retired: ["short"] })],
    ]) {
      writeFileSync(seen, text as string);
      await assert.rejects(world.open(), (err: unknown) => {
        assert.ok(isSecretError(err, "INVALID_FORMAT"), `${label}: ${String(err)}`);
        assert.match(err.hint ?? "", /first sight: rm /);
        return true;
      });
    }
    writeFileSync(seen, pristine);
    chmodSync(seen, 0o666);
    await assert.rejects(world.open(), code("INVALID_FORMAT"));
    chmodSync(seen, 0o600);
    (await world.open()).close();
  } finally {
    world.cleanup();
  }
});

test("a master rotation gives the store a new integrity key; a host that remembers a head from before still finds it", async () => {
  const a = await makeVaultWorld("keyhold-history-a-");
  const b = await makeVaultWorld("keyhold-history-b-");
  try {
    const vaultA = await a.init();
    await vaultA.put("app/key", "one");
    const master = await vaultA.exportMaster();
    (await joinVault({ ...b.options, backend: a.backend, master })).close();
    master.dispose();
    const seenByB = JSON.parse(readFileSync(seenFile(b), "utf8"));
    const before = records(a);

    await vaultA.rotateMaster({ reason: "test" });
    await vaultA.put("app/key", "two");
    const after = records(a);
    // Every record was MACed again, with a key the old master does not open.
    for (const key of Object.keys(before))
      assert.notEqual(JSON.parse(after[key]?.v ?? "{}").m, JSON.parse(before[key]?.v ?? "{}").m, key);
    assert.notDeepEqual(body(a, "meta").ik, JSON.parse(JSON.parse(before.meta?.v ?? "{}").b).ik);

    // B still has the old master only: the store names one it does not hold.
    await assert.rejects(openVault({ ...b.options, backend: a.backend }), code("MASTER_KEY_MISSING"));
    // Given the new one, B finds the head it saw (under the old key) in the store's history.
    const next = await vaultA.exportMaster();
    vaultA.close();
    rmSync(join(b.scratch.store, MASTER_CREDENTIAL));
    const joined = await joinVault({ ...b.options, backend: a.backend, master: next });
    next.dispose();
    const report = await joined.verify();
    assert.deepEqual([report.ok, report.firstSight], [true, false], report.problems.join("; "));
    assert.equal((await joined.get("app/key")).expose(), "two");
    joined.close();
    const links = (body(a, "chain/0") as { links: string[] }).links;
    assert.equal(links[seenByB.generation - 1], seenByB.head, "the history keeps the old head's MAC");
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

test("a long-lived handle follows a master rotation made by another process of the host", async () => {
  const world = await makeVaultWorld();
  try {
    const service = await world.init();
    await service.put("app/key", "one");
    const rotator = await world.open();
    await rotator.rotateMaster({ reason: "test" });
    rotator.close();
    // The service still holds the old master and integrity key: it takes the new ones the store
    // names (the provider holds the new master now) instead of calling the store tampered.
    assert.equal((await service.get("app/key")).expose(), "one");
    await service.put("app/key", "two");
    assert.deepEqual(
      (await service.list()).map((i) => `${i.ns}/${i.name}@${i.version}`),
      ["app/key@2"],
    );
    assert.equal((await service.verify()).ok, true);
    service.close();
    const again = await world.open();
    assert.equal((await again.get("app/key")).expose(), "two");
    again.close();
  } finally {
    world.cleanup();
  }
});
