import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { isSecretError, Secret } from "../../src/secret/index.js";
import {
  FileBackend,
  joinVault,
  openVault,
  PostgresBackend,
  passphraseProvider,
  VAULT_FILE,
  type Vault,
} from "../../src/vault/index.js";
import { deriveKek, integrityKeyAd, open, recordMac, storeDigest } from "../../src/vault/crypto.js";
import { makeCanary, makeScratch } from "../support/scratch.js";
import { STORE_ARGON2, type StoreExpectations } from "../vectors/generate-vault-store.js";
import { startPostgres, type TestPostgres } from "./postgres-server.js";
import { makeVaultWorld } from "./support.js";

/**
 * Attacks on the vault's history protection (docs/vault-format.md sections 4 and 7) by the
 * database administrator: plain SQL on a real PostgreSQL records table, never a key of any host
 * (test 3 adds a master key that was leaked and then rotated away). Each test states the claim
 * it attacks and asserts the behaviour the docs promise.
 */

let server: TestPostgres | string;
before(() => {
  server = startPostgres();
});
after(() => {
  if (typeof server !== "string") server.stop();
});

const code = (c: string) => (err: unknown) => isSecretError(err) && err.code === c;

function connectionFor(s: TestPostgres, store: string) {
  return { config: { host: s.host, port: s.port, user: s.user, database: "postgres" }, store };
}

interface Row {
  key: string;
  rev: string;
  value: string;
}

/** The administrator's tools: plain SQL on the records table. */
async function sql<R extends object = Row>(
  s: TestPostgres,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client(connectionFor(s, "").config);
  await client.connect();
  try {
    return (await client.query(text, values)).rows as R[];
  } finally {
    await client.end();
  }
}

async function rows(s: TestPostgres, store: string): Promise<Map<string, Row>> {
  const all = await sql(s, "SELECT key, rev, value FROM keyhold_vault_records WHERE store = $1", [store]);
  return new Map(all.map((r) => [r.key, r]));
}

async function setValues(s: TestPostgres, store: string, values: Array<[string, string]>): Promise<void> {
  await sql(
    s,
    "UPDATE keyhold_vault_records AS r SET value = v.value, rev = r.rev + 1 " +
      "FROM unnest($2::text[], $3::text[]) AS v(key, value) WHERE r.store = $1 AND r.key = v.key",
    [store, values.map(([k]) => k), values.map(([, v]) => v)],
  );
}

const setValue = (s: TestPostgres, store: string, key: string, value: string) =>
  setValues(s, store, [[key, value]]);

async function putBack(s: TestPostgres, store: string, copy: Map<string, Row>): Promise<void> {
  await sql(s, "DELETE FROM keyhold_vault_records WHERE store = $1", [store]);
  for (const r of copy.values())
    await sql(s, "INSERT INTO keyhold_vault_records (store, key, rev, value) VALUES ($1, $2, $3, $4)", [
      store,
      r.key,
      r.rev,
      r.value,
    ]);
}

const envelope = (value: string) => JSON.parse(value) as { k: string; b: string; m: string };
const macOf = (value: string) => BigInt(`0x${Buffer.from(envelope(value).m, "base64").toString("hex")}`);

/**
 * Which of `vectors` XOR to `target` (Gaussian elimination over GF(2)): the indices, or undefined.
 * Each basis entry remembers which input vectors it is made of.
 */
function xorSubset(vectors: bigint[], target: bigint): number[] | undefined {
  const basis = new Map<number, { v: bigint; mask: bigint }>();
  const reduce = (v: bigint, mask: bigint) => {
    for (let bit = 255; bit >= 0 && v !== 0n; bit--) {
      const b = basis.get(bit);
      if ((v >> BigInt(bit)) & 1n && b !== undefined) {
        v ^= b.v;
        mask ^= b.mask;
      }
    }
    return { v, mask };
  };
  vectors.forEach((vec, i) => {
    const r = reduce(vec, 1n << BigInt(i));
    if (r.v !== 0n) basis.set(r.v.toString(2).length - 1, r);
  });
  const t = reduce(target, 0n);
  if (t.v !== 0n) return undefined;
  return vectors.map((_, i) => i).filter((i) => (t.mask >> BigInt(i)) & 1n);
}

const plugin1 = { plugin: "plugin1", needs: [{ ns: "app", name: "key", ops: ["read" as const] }] };
const grant1 = { ns: "app", name: "key", ops: ["read" as const] };

async function pluginReads(vault: Vault, canary: string): Promise<boolean> {
  try {
    const got = await vault.scope("plugin1").get("app/key");
    const same = got.expose() === canary;
    got.dispose();
    return same;
  } catch {
    return false;
  }
}

test("records swapped for older versions of themselves, chosen so the XOR digest still matches, are caught", async (t) => {
  if (typeof server === "string") return t.skip(server);
  const s = server;
  const world = await makeVaultWorld("keyhold-attack-xor-");
  const backend = await PostgresBackend.connect(connectionFor(s, "xor"));
  const canary = makeCanary("xor");
  try {
    const vault = await world.init({ backend });
    await vault.put("app/key", canary);
    await vault.registerManifest(plugin1);
    await vault.grant("plugin1", grant1);
    const bulk = (round: string) =>
      Array.from({ length: 300 }, (_, i) => ({
        ref: `bulk/s${i}`,
        value: Secret.fromString(`${round}-${i}`),
      }));
    await vault.importValues(bulk("one"), "test");
    // The administrator keeps copies of rows as they pass (a dump, a replica, a trigger).
    const older = await rows(s, "xor");
    await vault.importValues(bulk("two"), "test", { overwrite: true });
    await vault.revoke("plugin1", "app", "key");
    assert.equal(await pluginReads(vault, canary), false, "the revoke holds on the host that made it");
    vault.close();

    // The attack: put back the policy from before the revoke, and older versions of just the
    // secrets whose MAC differences XOR to the policy's, so the head's digest still matches.
    const now = await rows(s, "xor");
    const policy = (m: Map<string, Row>) => (m.get("policy") as Row).value;
    const keys = [...now.keys()].filter((k) => k.startsWith("secret/bulk/"));
    const diffs = keys.map((k) => macOf((older.get(k) as Row).value) ^ macOf((now.get(k) as Row).value));
    const swap = xorSubset(diffs, macOf(policy(older)) ^ macOf(policy(now)));
    assert.ok(swap, "300 random 256-bit differences span the space");
    const swapped = swap.map((i) => keys[i] as string);
    await setValues(s, "xor", [
      ["policy", policy(older)],
      ...swapped.map((k): [string, string] => [k, (older.get(k) as Row).value]),
    ]);

    // Host A, which made the revoke and remembers the newest head, opens the store.
    const outcome = await world.open({ backend }).catch((err: unknown) => err);
    let evidence = "";
    if (!isSecretError(outcome)) {
      const v = outcome as Vault;
      const report = await v.verify();
      evidence =
        `opened; verify ok=${report.ok} history=${report.history}; ` +
        `plugin1 reads app/key again: ${await pluginReads(v, canary)}; ` +
        `${swap.length} secrets silently rolled back to older versions`;
      v.close();
    }
    assert.ok(isSecretError(outcome, "VAULT_TAMPERED"), `the spliced store was accepted: ${evidence}`);
  } finally {
    await backend.close();
    world.cleanup();
  }
});

test("a commit does not write on top of a fork dressed up with a history record from another branch", async (t) => {
  if (typeof server === "string") return t.skip(server);
  const s = server;
  const a = await makeVaultWorld("keyhold-attack-splice-a-");
  const b = await makeVaultWorld("keyhold-attack-splice-b-");
  const c = await makeVaultWorld("keyhold-attack-splice-c-");
  const connect = () => PostgresBackend.connect(connectionFor(s, "splice"));
  const backends = [await connect(), await connect(), await connect()] as const;
  const [ba, bb, bc] = backends;
  try {
    const setup = await a.init({ backend: ba });
    await setup.put("app/key", makeCanary("splice"));
    await setup.registerManifest(plugin1);
    await setup.grant("plugin1", grant1);
    // Up to generation 120, so the history's first record (generations 0..127) is nearly full.
    while ((await setup.verify()).generation < 120) await setup.put("app/counter", "a");
    const master = await setup.exportMaster();
    setup.close();
    (await joinVault({ ...b.options, backend: bb, master })).close();
    (await joinVault({ ...c.options, backend: bc, master })).close();
    master.dispose();
    const generation120 = await rows(s, "splice");

    // Host A keeps a handle open (a service) and revokes: generation 121, which A remembers.
    const service = await a.open({ backend: ba });
    await service.revoke("plugin1", "app", "key");
    // Host B writes on the real history: chain/0 now holds the head A saw at 121.
    const vb = await openVault({ ...b.options, backend: bb });
    await vb.put("b/x", "b");
    vb.close();
    const realChain0 = (await rows(s, "splice")).get("chain/0") as Row;

    // The administrator puts back generation 120; host C (which last saw 120) writes past the
    // 128 boundary, so its new head is appended to chain/1.
    await putBack(s, "splice", generation120);
    const vc = await openVault({ ...c.options, backend: bc });
    while ((await vc.verify()).generation < 129) await vc.put("c/y", "c");
    vc.close();
    const forkChain0 = (await rows(s, "splice")).get("chain/0") as Row;

    // Just before A's service commits, chain/0 of the real branch is swapped in; just after, back.
    await setValue(s, "splice", "chain/0", realChain0.value);
    const headBefore = ((await rows(s, "splice")).get("head") as Row).value;
    const committed = await service.put("app/other", "a").then(
      () => "committed",
      (err: unknown) => (isSecretError(err) ? err.code : String(err)),
    );
    service.close();
    const headAfter = ((await rows(s, "splice")).get("head") as Row).value;
    await setValue(s, "splice", "chain/0", forkChain0.value);

    const reopened = await a.open({ backend: ba }).catch((err: unknown) => err);
    let evidence = `A's commit on the fork: ${committed}`;
    if (!isSecretError(reopened)) {
      const v = reopened as Vault;
      const report = await v.verify();
      const grants = (await v.policy()).grants.plugin1 ?? [];
      evidence += `; A reopens: ok=${report.ok} history=${report.history}; revoked grant back: ${grants.length > 0}`;
      v.close();
    }
    // The commit checks the whole store against its head first: the swapped-in history record is
    // not the one the fork's head names, so nothing is written and A's memory stays where it was.
    assert.equal(committed, "VAULT_TAMPERED", evidence);
    assert.equal(headAfter, headBefore, "nothing was committed on the fork");
    assert.ok(isSecretError(reopened, "VAULT_FORKED"), evidence);
  } finally {
    for (const x of backends) await x.close();
    for (const w of [a, b, c]) w.cleanup();
  }
});

test("after rotate --all, a master key that leaked before it no longer lets anyone forge the store", async (t) => {
  if (typeof server === "string") return t.skip(server);
  const s = server;
  const world = await makeVaultWorld("keyhold-attack-ik-");
  const backend = await PostgresBackend.connect(connectionFor(s, "ik"));
  const canary = makeCanary("ik");
  try {
    const vault = await world.init({ backend });
    await vault.put("app/key", canary);
    await vault.registerManifest(plugin1);
    await vault.grant("plugin1", grant1);
    // The master leaks (an export piped through a compromised channel); the admin has the rows.
    const leaked = Buffer.from((await vault.exportMaster()).exposeBytes());
    const oldMeta = JSON.parse(envelope(((await rows(s, "ik")).get("meta") as Row).value).b);
    // The documented response to a suspected compromise, then the grant is revoked too.
    await vault.rotateAll({ reason: "suspected compromise" });
    await vault.revoke("plugin1", "app", "key");
    vault.close();

    // The admin unwraps the integrity key with the leaked master and the old meta row ...
    const storeId = Buffer.from(oldMeta.storeId, "base64");
    const ik = open(
      deriveKek(leaked, storeId, oldMeta.ik.kek),
      Buffer.from(oldMeta.ik.n, "base64"),
      Buffer.from(oldMeta.ik.c, "base64"),
      integrityKeyAd(storeId, oldMeta.ik.kek),
      "ik",
    );
    // ... and writes a commit of its own: the grant back, history appended, digest fixed.
    const now = await rows(s, "ik");
    const forge = (key: string, body: unknown) => {
      const b = JSON.stringify(body);
      return JSON.stringify({ k: key, b, m: recordMac(ik, key, b).toString("base64") });
    };
    const headEnv = envelope((now.get("head") as Row).value);
    const head = JSON.parse(headEnv.b);
    const digest = Buffer.from(head.digest, "base64");
    const replace = (key: string, value: string) => {
      for (const m of [(now.get(key) as Row).value, value]) {
        const mac = Buffer.from(envelope(m).m, "base64");
        for (let i = 0; i < 32; i++) digest[i] = (digest[i] as number) ^ (mac[i] as number);
      }
      return setValue(s, "ik", key, value);
    };
    const policy = JSON.parse(envelope((now.get("policy") as Row).value).b);
    policy.grants.plugin1 = [grant1];
    await replace("policy", forge("policy", policy));
    const chain = JSON.parse(envelope((now.get("chain/0") as Row).value).b);
    chain.links.push(headEnv.m);
    await replace("chain/0", forge("chain/0", chain));
    const next = {
      ...head,
      generation: head.generation + 1,
      prev: headEnv.m,
      digest: digest.toString("base64"),
    };
    await setValue(s, "ik", "head", forge("head", next));

    const outcome = await world.open({ backend }).catch((err: unknown) => err);
    let evidence = "";
    if (!isSecretError(outcome)) {
      const v = outcome as Vault;
      const report = await v.verify();
      evidence = `opened; verify ok=${report.ok} history=${report.history}; plugin1 reads app/key: ${await pluginReads(v, canary)}`;
      v.close();
    }
    leaked.fill(0);
    assert.ok(isSecretError(outcome, "VAULT_TAMPERED"), `the forged commit was accepted: ${evidence}`);
  } finally {
    await backend.close();
    world.cleanup();
  }
});

test("after a master rotation, a copy from before it, forged on with the leaked old master, is refused (passphrase)", async (t) => {
  if (typeof server === "string") return t.skip(server);
  const s = server;
  // The passphrase provider keeps the master in the store: whoever restores an old copy restores
  // the old master with it, and the host's passphrase opens it. Only the host's memory can tell.
  const world = await makeVaultWorld("keyhold-attack-retired-");
  const backend = await PostgresBackend.connect(connectionFor(s, "retired"));
  const canary = makeCanary("retired");
  const pass = Secret.fromString("passphrase of the retired test");
  const provider = passphraseProvider({ passphrase: pass, argon2: STORE_ARGON2 });
  try {
    const vault = await world.init({ backend, provider });
    await vault.put("app/key", canary);
    await vault.registerManifest(plugin1);
    await vault.grant("plugin1", grant1, { passphrase: pass });
    const leaked = Buffer.from((await vault.exportMaster({ passphrase: pass })).exposeBytes());
    const older = await rows(s, "retired");
    await vault.rotateMaster({ passphrase: pass, reason: "suspected compromise" });
    await vault.revoke("plugin1", "app", "key", { passphrase: pass });
    await vault.put("app/other", "after the revoke");
    vault.close();
    // A service keeps a handle open across what follows.
    const service = await world.open({ backend, provider });

    // The administrator puts the old copy back and forges commits on it with the old integrity
    // key, the history holding every real head MAC up to the head the host remembers (all of
    // them are in the table for anyone to copy).
    const now = await rows(s, "retired");
    const headNow = envelope((now.get("head") as Row).value);
    const generation = JSON.parse(headNow.b).generation as number;
    const realLinks = JSON.parse(envelope((now.get("chain/0") as Row).value).b).links as string[];
    const meta = JSON.parse(envelope((older.get("meta") as Row).value).b);
    const storeId = Buffer.from(meta.storeId, "base64");
    const ik = open(
      deriveKek(leaked, storeId, meta.ik.kek),
      Buffer.from(meta.ik.n, "base64"),
      Buffer.from(meta.ik.c, "base64"),
      integrityKeyAd(storeId, meta.ik.kek),
      "ik",
    );
    const forge = (key: string, body: unknown) => {
      const b = JSON.stringify(body);
      return JSON.stringify({ k: key, b, m: recordMac(ik, key, b).toString("base64") });
    };
    const forged = new Map(older);
    const chain0 = { first: 1, links: [...realLinks, headNow.m] };
    forged.set("chain/0", { key: "chain/0", rev: "1", value: forge("chain/0", chain0) });
    const macs = new Map(
      [...forged.values()]
        .filter((r) => r.key !== "head")
        .map((r) => [r.key, Buffer.from(envelope(r.value).m, "base64")]),
    );
    const head = {
      format: 3,
      generation: generation + 1,
      prev: headNow.m,
      since: 1,
      count: macs.size,
      digest: storeDigest(ik, macs).toString("base64"),
      seals: {},
      updated: new Date().toISOString(),
    };
    forged.set("head", { key: "head", rev: "1", value: forge("head", head) });
    await putBack(s, "retired", forged);

    // The open handle's next read finds records its integrity key does not verify and looks at
    // the store's meta again: it names the retired master, which the handle does not go back to.
    const served = await service.policy().then(
      (p) => `read the policy: plugin1 granted ${(p.grants.plugin1 ?? []).length > 0}`,
      (err: unknown) => (isSecretError(err) ? err.code : String(err)),
    );
    service.close();
    assert.equal(served, "VAULT_ROLLBACK");

    const outcome = await world.open({ backend, provider }).catch((err: unknown) => err);
    let evidence = "";
    if (!isSecretError(outcome)) {
      const v = outcome as Vault;
      const report = await v.verify();
      evidence = `opened; verify ok=${report.ok} history=${report.history}; plugin1 reads app/key: ${await pluginReads(v, canary)}`;
      v.close();
    }
    leaked.fill(0);
    assert.ok(isSecretError(outcome, "VAULT_ROLLBACK"), `the forged copy was accepted: ${evidence}`);
  } finally {
    pass.dispose();
    await backend.close();
    world.cleanup();
  }
});

test("a host that saw a format 1 store at generation m refuses a store whose chain claims format 2 at or before m", async () => {
  const scratch = makeScratch("keyhold-attack-legacy-");
  try {
    const source = join(import.meta.dirname, "..", "..", "..", "test", "vectors", "vault-stores", "format-1");
    const expect = JSON.parse(readFileSync(join(source, "expect.json"), "utf8")) as StoreExpectations;
    const dir = join(scratch.root, "store");
    mkdirSync(dir, { mode: 0o700 });
    copyFileSync(join(source, VAULT_FILE), join(dir, VAULT_FILE));
    const records = JSON.parse(readFileSync(join(dir, VAULT_FILE), "utf8")).records;
    const meta = JSON.parse(envelope(records.meta.v).b);
    const g = JSON.parse(envelope(records.head.v).b).generation as number;
    const pass = Secret.fromString(expect.passphrase);
    const hostState = (label: string) => {
      const state = join(scratch.root, label);
      mkdirSync(state, { mode: 0o700 });
      return state;
    };
    const opener = (stateDir: string) => () =>
      openVault({
        backend: new FileBackend({ dir, shred: false }),
        provider: passphraseProvider({ passphrase: pass, argon2: STORE_ARGON2 }),
        stateDir,
      });
    // Host A ran the format 1 keyhold and saw this store two commits further, at g + 2 (its
    // memory then is the bare number); the file in hand is the older copy put back at g.
    const stateA = hostState("a");
    const seenA = join(stateA, `vault-${Buffer.from(meta.storeId, "base64").toString("hex")}.seen`);
    writeFileSync(seenA, `${g + 2}\n`, { mode: 0o600 });
    // Host C writes to the copy: the first commit upgrades it (chain since g + 1), then on to g + 3.
    const c = await opener(hostState("c"))();
    for (let i = 0; i < 3; i++) await c.put("other/thing", `c-${i}`);
    c.close();
    // The store claims format 2 from g + 1, but A saw format 1 at g + 2: not its history.
    await assert.rejects(opener(stateA)(), code("VAULT_FORKED"));
  } finally {
    scratch.cleanup();
  }
});

test("text the database administrator writes never reaches an error message raw (terminal control characters)", async (t) => {
  if (typeof server === "string") return t.skip(server);
  const s = server;
  const world = await makeVaultWorld("keyhold-attack-escape-");
  const backend = await PostgresBackend.connect(connectionFor(s, "escape"));
  try {
    (await world.init({ backend })).close();
    const policy = envelope(((await rows(s, "escape")).get("policy") as Row).value);
    // Erase the line, return to its start and print a reassuring verdict instead.
    await setValue(s, "escape", "policy", JSON.stringify({ ...policy, k: "\x1b[2K\rvault verified\x1b[8m" }));
    const err = await world.open({ backend }).catch((e: unknown) => e);
    assert.ok(isSecretError(err, "VAULT_TAMPERED"));
    assert.doesNotMatch(
      err.message,
      /[\x00-\x1f\x7f]/,
      "the message carries control characters from the store",
    );
  } finally {
    await backend.close();
    world.cleanup();
  }
});
