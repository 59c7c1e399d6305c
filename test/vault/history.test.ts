import assert from "node:assert/strict";
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { isSecretError } from "../../src/secret/index.js";
import { FileBackend, joinVault, openVault, VAULT_FILE } from "../../src/vault/index.js";
import { CHAIN_SEGMENT } from "../../src/vault/history.js";
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
    const vault = await world.init();
    await vault.put("app/key", "one");
    vault.close();
    const seen = seenFile(world);
    const generation = JSON.parse(readFileSync(seen, "utf8")).generation as number;

    writeFileSync(seen, `${generation + 5}\n`, { mode: 0o600 });
    await assert.rejects(world.open(), code("VAULT_ROLLBACK"));

    writeFileSync(seen, `${generation}\n`, { mode: 0o600 });
    const v = await world.open();
    const report = await v.verify();
    assert.deepEqual([report.ok, report.history, report.firstSight], [true, "unchanged", true]);
    v.close();
    const learnt = JSON.parse(readFileSync(seen, "utf8"));
    assert.equal(learnt.generation, generation);
    assert.match(learnt.head, /^[A-Za-z0-9+/]{43}=$/);
    assert.match(learnt.host, /^[0-9a-f]{32}$/);
    const audit = await world.audit.read();
    assert.ok(audit.some((r) => r.op === "vault.first-sight" && r.detail?.generation === generation));
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
