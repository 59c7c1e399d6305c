import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { isSecretError, Secret } from "../../src/secret/index.js";
import { joinVault, openVault, VAULT_FILE } from "../../src/vault/index.js";
import { makeCanary } from "../support/scratch.js";
import { everyFileUnder, makeVaultWorld } from "./support.js";

const code = (c: string) => (err: unknown) => isSecretError(err) && err.code === c;

test("put, get, list, versions, rollback and delete on the file backend", async () => {
  const world = await makeVaultWorld();
  try {
    const vault = await world.init();
    assert.deepEqual(await vault.put("weather/api_key", "first"), { version: 1 });
    assert.deepEqual(await vault.put("weather/api_key", Secret.fromString("second")), { version: 2 });
    await vault.put("billing/token", Buffer.from([0, 1, 2, 255]));
    assert.equal((await vault.get("weather/api_key")).expose(), "second");
    assert.equal((await vault.get("weather/api_key", { version: 1 })).expose(), "first");
    assert.deepEqual([...(await vault.get("billing/token")).exposeBytes()], [0, 1, 2, 255]);

    const listed = await vault.list();
    assert.deepEqual(
      listed.map((s) => `${s.ns}/${s.name}@${s.version}/${s.versions}`),
      ["billing/token@1/1", "weather/api_key@2/2"],
    );
    assert.deepEqual(
      (await vault.list("weather")).map((s) => s.name),
      ["api_key"],
    );
    const versions = await vault.versions("weather/api_key");
    assert.deepEqual(
      versions.map((v) => [v.version, v.current]),
      [
        [1, false],
        [2, true],
      ],
    );

    assert.deepEqual(await vault.rollback("weather/api_key"), { version: 1 });
    assert.equal((await vault.get("weather/api_key")).expose(), "first");
    assert.deepEqual(await vault.put("weather/api_key", "third"), { version: 3 });
    await assert.rejects(vault.rollback("weather/api_key", { to: 9 }), code("VERSION_NOT_FOUND"));

    await vault.delete("billing/token");
    await assert.rejects(vault.get("billing/token"), code("SECRET_NOT_FOUND"));
    await assert.rejects(vault.delete("billing/token"), code("SECRET_NOT_FOUND"));
    vault.close();

    // A second process (a fresh handle) opens, checks everything, and sees the same state.
    const again = await world.open();
    assert.equal((await again.get("weather/api_key")).expose(), "third");
    assert.equal((await again.verify()).ok, true);
    again.close();
    await assert.rejects(again.get("weather/api_key"), code("DISPOSED"));
  } finally {
    world.cleanup();
  }
});

test("only the newest 10 versions are kept; an expired version is refused", async () => {
  let now = new Date("2030-01-01T00:00:00Z");
  const world = await makeVaultWorld();
  try {
    const vault = await world.init({ now: () => now });
    for (let i = 1; i <= 12; i++) await vault.put("svc/key", `value-${i}`);
    const versions = await vault.versions("svc/key");
    assert.deepEqual(
      versions.map((v) => v.version),
      [3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
    await assert.rejects(vault.get("svc/key", { version: 1 }), code("VERSION_NOT_FOUND"));
    await vault.put("svc/short", "lives an hour", { expires: new Date("2030-01-01T01:00:00Z") });
    assert.equal((await vault.get("svc/short")).expose(), "lives an hour");
    now = new Date("2030-01-01T02:00:00Z");
    await assert.rejects(vault.get("svc/short"), code("EXPIRED"));
    vault.close();
  } finally {
    world.cleanup();
  }
});

test("KEK rotation rewraps keys only; DEK rotation keeps old versions readable; master rotation swaps the credential", async () => {
  const world = await makeVaultWorld();
  try {
    const vault = await world.init();
    await vault.put("a/one", "alpha");
    await vault.put("b/two", "beta");
    const before = JSON.parse(readFileSync(join(world.vaultDir, VAULT_FILE), "utf8")).records;
    const kek = await vault.rotateKek();
    assert.equal(kek.version, 2);
    const after = JSON.parse(readFileSync(join(world.vaultDir, VAULT_FILE), "utf8")).records;
    // Values are not re-encrypted: the secret records are byte for byte the same.
    assert.equal(after["secret/a/one"].v, before["secret/a/one"].v);
    assert.notEqual(after["dek/a"].v, before["dek/a"].v);
    assert.equal((await vault.get("a/one")).expose(), "alpha");

    const dek = await vault.rotateDek("a");
    assert.equal(dek.version, 2);
    await vault.put("a/three", "gamma");
    const v3 = await vault.versions("a/three");
    assert.equal(v3[0]?.dekVersion, 2);
    assert.equal(
      (await vault.versions("a/one"))[0]?.dekVersion,
      1,
      "old values stay under DEK 1 during the transition",
    );
    assert.equal((await vault.get("a/one")).expose(), "alpha");
    await vault.rotateDek("a", { rewrite: true });
    assert.equal((await vault.versions("a/one"))[0]?.dekVersion, 3);

    const credential = readFileSync(join(world.scratch.store, "keyhold-vault-master"));
    const m = await vault.rotateMaster();
    assert.equal(m.version, 2);
    assert.notDeepEqual(readFileSync(join(world.scratch.store, "keyhold-vault-master")), credential);
    assert.deepEqual(vault.keyVersions(), { master: 2, kek: 3, keks: [3] });
    assert.equal((await vault.get("b/two")).expose(), "beta");
    vault.close();
    const reopened = await world.open();
    assert.equal((await reopened.get("a/three")).expose(), "gamma");
    reopened.close();
  } finally {
    world.cleanup();
  }
});

test("rotate --due follows the per-level schedule", async () => {
  let now = new Date("2030-01-01T00:00:00Z");
  const world = await makeVaultWorld();
  try {
    const vault = await world.init({ now: () => now, schedule: { kek: "90d", dek: "30d" } });
    await vault.put("a/x", "v");
    assert.deepEqual(await vault.rotateDue(), []);
    now = new Date("2030-02-05T00:00:00Z");
    assert.deepEqual(
      (await vault.rotateDue()).map((r) => r.level),
      ["dek"],
    );
    now = new Date("2030-04-05T00:00:00Z");
    assert.deepEqual(
      (await vault.rotateDue()).map((r) => r.level),
      ["kek", "dek"],
    );
    assert.equal((await vault.get("a/x")).expose(), "v");
    vault.close();
  } finally {
    world.cleanup();
  }
});

test("tampering anywhere in the store is detected", async (t) => {
  const world = await makeVaultWorld();
  try {
    const vault = await world.init();
    await vault.put("weather/api_key", "sk-value-one");
    await vault.put("weather/other", "sk-value-two");
    vault.close();
    const path = join(world.vaultDir, VAULT_FILE);
    const pristine = readFileSync(path, "utf8");
    const records = JSON.parse(pristine).records as Record<string, { r: number; v: string }>;

    const reopenFails = async (label: string, expected: string[]) => {
      await assert.rejects(
        world.open(),
        (err: unknown) => isSecretError(err) && expected.includes(err.code),
        label,
      );
      writeFileSync(path, pristine);
    };

    // A bit flipped in every record's envelope (key, body, MAC) fails the open.
    for (const key of Object.keys(records)) {
      for (const part of ["k", "b", "m"] as const) {
        await t.test(`flip a bit in ${key}.${part}`, async () => {
          const doc = JSON.parse(pristine);
          const env = JSON.parse(doc.records[key].v);
          const s: string = env[part];
          const i = Math.floor(s.length / 2);
          env[part] = s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ 1) + s.slice(i + 1);
          doc.records[key].v = JSON.stringify(env);
          writeFileSync(path, JSON.stringify(doc));
          await reopenFails(`${key}.${part}`, [
            "VAULT_TAMPERED",
            "MASTER_KEY_MISSING",
            "DECRYPT_FAILED",
            "FORMAT_UNSUPPORTED",
          ]);
        });
      }
    }
    await t.test("two secrets' records swapped", async () => {
      const doc = JSON.parse(pristine);
      const a = doc.records["secret/weather/api_key"];
      doc.records["secret/weather/api_key"] = doc.records["secret/weather/other"];
      doc.records["secret/weather/other"] = a;
      writeFileSync(path, JSON.stringify(doc));
      await reopenFails("swap", ["VAULT_TAMPERED"]);
    });
    await t.test("a record removed", async () => {
      const doc = JSON.parse(pristine);
      delete doc.records["secret/weather/other"];
      writeFileSync(path, JSON.stringify(doc));
      await reopenFails("removed", ["VAULT_TAMPERED"]);
    });
    await t.test("the file truncated or not JSON", async () => {
      writeFileSync(path, pristine.slice(0, pristine.length / 2));
      await reopenFails("truncated", ["VAULT_TAMPERED"]);
    });
    await t.test("an old copy of the whole store replayed", async () => {
      const v = await world.open();
      await v.put("weather/api_key", "sk-value-newer");
      v.close();
      copyFileSync(path, `${path}.newer`);
      writeFileSync(path, pristine);
      await assert.rejects(world.open(), code("VAULT_ROLLBACK"));
      copyFileSync(`${path}.newer`, path);
      const ok = await world.open();
      assert.equal((await ok.get("weather/api_key")).expose(), "sk-value-newer");
      ok.close();
    });
  } finally {
    world.cleanup();
  }
});

test("bad input is refused with a clear code and changes nothing", async () => {
  const world = await makeVaultWorld();
  try {
    const vault = await world.init();
    await vault.put("good/name", "value");
    const path = join(world.vaultDir, VAULT_FILE);
    const before = readFileSync(path);
    const cases: Array<[string, () => Promise<unknown>, string]> = [
      ["no slash", () => vault.put("noslash", "v"), "INVALID_NAME"],
      ["empty namespace", () => vault.put("/name", "v"), "INVALID_NAME"],
      ["empty name", () => vault.put("ns/", "v"), "INVALID_NAME"],
      ["dot-dot", () => vault.put("../etc", "v"), "INVALID_NAME"],
      ["second slash", () => vault.put("ns/a/b", "v"), "INVALID_NAME"],
      ["leading dot", () => vault.put("ns/.hidden", "v"), "INVALID_NAME"],
      ["space", () => vault.put("ns/a b", "v"), "INVALID_NAME"],
      ["newline", () => vault.put("ns/a\nb", "v"), "INVALID_NAME"],
      ["control char", () => vault.put("ns/a\u0000", "v"), "INVALID_NAME"],
      ["unicode", () => vault.put("ns/ключ", "v"), "INVALID_NAME"],
      ["too long", () => vault.put(`ns/${"a".repeat(129)}`, "v"), "INVALID_NAME"],
      ["empty value", () => vault.put("ns/a", ""), "EMPTY_VALUE"],
      ["empty bytes", () => vault.put("ns/a", new Uint8Array(0)), "EMPTY_VALUE"],
      ["huge value", () => vault.put("ns/a", Buffer.alloc(1024 * 1024 + 1, 1)), "TOO_LARGE"],
      ["invalid expiry", () => vault.put("ns/a", "v", { expires: new Date("nope") }), "INVALID_FORMAT"],
      ["get missing", () => vault.get("good/missing"), "SECRET_NOT_FOUND"],
      ["get bad version", () => vault.get("good/name", { version: 7 }), "VERSION_NOT_FOUND"],
      ["rollback with one version", () => vault.rollback("good/name"), "VERSION_NOT_FOUND"],
      ["versions bad name", () => vault.versions("bad"), "INVALID_NAME"],
      ["list bad namespace", () => vault.list("../x"), "INVALID_NAME"],
      ["rotate unknown namespace", () => vault.rotateDek("nosuch"), "SECRET_NOT_FOUND"],
      ["bad schedule", () => vault.setSchedule({ kek: "soon" }), "INVALID_FORMAT"],
      ["scope bad plugin", async () => vault.scope("bad plugin"), "INVALID_NAME"],
      [
        "grant bad ops",
        () => vault.grant("p", { ns: "a", name: "*", ops: ["steal" as "read"] }),
        "INVALID_FORMAT",
      ],
      ["delete missing", () => vault.delete("good/missing"), "SECRET_NOT_FOUND"],
    ];
    assert.ok(cases.length >= 20);
    for (const [label, run, expected] of cases) {
      await assert.rejects(run(), (err: unknown) => {
        assert.ok(isSecretError(err), `${label}: not a SecretError`);
        assert.equal(err.code, expected, `${label}: ${err.message}`);
        assert.ok(!err.message.endsWith("."), label);
        return true;
      });
    }
    assert.deepEqual(readFileSync(path), before, "nothing changed");
    vault.close();
  } finally {
    world.cleanup();
  }
});

test("canary: a value never reaches files in plaintext, errors, the audit log or inspection output", async () => {
  const world = await makeVaultWorld();
  try {
    const canary = makeCanary("vault");
    const vault = await world.init();
    await vault.put("leak/check", canary);
    await vault.put("leak/check", `${canary}-2`);
    await vault.rotateKek();
    await vault.rotateMaster();
    await vault.delete("leak/check");
    await vault.put("leak/check", canary);
    const got = await vault.get("leak/check");
    assert.equal(got.expose(), canary);
    assert.equal(String(got), "[REDACTED]");
    assert.equal(JSON.stringify({ got }), '{"got":"[REDACTED]"}');
    let message = "";
    try {
      await vault.put("leak/../x", canary);
    } catch (err) {
      message = `${(err as Error).message} ${(err as SecretError).hint ?? ""}`;
    }
    assert.ok(message.length > 0 && !message.includes(canary));
    vault.close();
    for (const { path, bytes } of everyFileUnder(world.scratch.root)) {
      assert.ok(!bytes.includes(Buffer.from(canary)), `canary found in ${path}`);
      assert.ok(
        !bytes.includes(Buffer.from(canary).toString("base64").slice(0, 24)),
        `canary (base64) found in ${path}`,
      );
    }
    const audit = readFileSync(join(world.scratch.state, "audit.log"), "utf8");
    assert.match(audit, /vault\.put/);
    assert.match(audit, /vault\.get/);
  } finally {
    world.cleanup();
  }
});

type SecretError = import("../../src/secret/index.js").SecretError;

test("every vault operation is audited; truncating the audit log below the sealed head shows", async () => {
  const world = await makeVaultWorld();
  try {
    const vault = await world.init();
    await vault.put("a/b", "one");
    await vault.get("a/b");
    await assert.rejects(vault.get("a/missing"));
    await vault.put("a/b", "two");
    const records = await world.audit.read();
    const ops = records.map((r) => `${r.op}:${r.result}`);
    assert.deepEqual(ops, [
      "vault.open:ok",
      "vault.init:ok",
      "vault.put:ok",
      "vault.get:ok",
      "vault.get:error",
      "vault.put:ok",
    ]);
    assert.equal((await vault.verifyAudit()).ok, true);
    vault.close();

    // A fresh handle (as in a new process) seals the log's tip at its first commit.
    const fresh = await world.open();
    await fresh.put("a/b", "three");
    fresh.close();
    const sealedAt = (await world.audit.read()).find((r) => r.op === "vault.open" && r.seq > 1)?.seq;
    assert.ok(sealedAt !== undefined);

    // Cut the log back to before the sealed record; the vault's own check names the seal.
    const logPath = join(world.scratch.state, "audit.log");
    const lines = readFileSync(logPath, "utf8").split("\n").filter(Boolean);
    writeFileSync(logPath, `${lines.slice(0, sealedAt - 1).join("\n")}\n`);
    const checker = await world.open();
    const report = await checker.verifyAudit();
    checker.close();
    assert.equal(report.ok, false);
    assert.ok(
      report.problems.some((p) => p.includes(`before record ${sealedAt}, which the vault sealed`)),
      report.problems.join("; "),
    );
  } finally {
    world.cleanup();
  }
});

test("a long-lived handle never moves this host's audit seal back past what another process sealed", async () => {
  const world = await makeVaultWorld();
  try {
    const service = await world.init();
    await service.put("a/b", "one");
    // Another process of this host reads and writes since: its commit seals a later record.
    const other = await world.open();
    for (let i = 0; i < 5; i++) (await other.get("a/b")).dispose();
    await other.put("a/c", "two");
    other.close();
    const sealOf = () => {
      const head = JSON.parse(
        JSON.parse(readFileSync(join(world.vaultDir, VAULT_FILE), "utf8")).records.head.v,
      );
      return Object.values(JSON.parse(head.b).seals as Record<string, { seq: number }>);
    };
    const [sealed] = sealOf();
    assert.ok(sealed);
    // The service's last audit record is older than that seal; its commit must not lower it.
    await service.put("a/b", "three");
    service.close();
    const [now] = sealOf();
    assert.ok(now && now.seq >= sealed.seq, `the seal moved back from ${sealed.seq} to ${now?.seq}`);
    // So cutting the log back to the service's own last record still shows.
    const logPath = join(world.scratch.state, "audit.log");
    const lines = readFileSync(logPath, "utf8").split("\n").filter(Boolean);
    writeFileSync(logPath, `${lines.slice(0, sealed.seq - 1).join("\n")}\n`);
    const checker = await world.open();
    const report = await checker.verifyAudit();
    checker.close();
    assert.ok(
      report.problems.some((p) =>
        p.includes(`before record ${now.seq}, which the vault sealed for this host`),
      ),
      report.problems.join("; "),
    );
  } finally {
    world.cleanup();
  }
});

test("audit verify reads this host's seal only from a head that passes the store's check", async () => {
  const world = await makeVaultWorld();
  try {
    const vault = await world.init();
    await vault.put("a/b", "one");
    const path = join(world.vaultDir, VAULT_FILE);
    const older = readFileSync(path);
    for (let i = 0; i < 3; i++) await vault.put("a/b", `later ${i}`);
    // A long-lived handle; meanwhile an older copy of the store is put back: its head holds an
    // older seal for this host, which the (intact) log still has. The seal of a head that fails
    // the store's check proves nothing; the report says what is wrong with the store instead.
    writeFileSync(path, older);
    const report = await vault.verifyAudit();
    vault.close();
    assert.equal(report.ok, false);
    assert.equal(report.store.history, "rolled-back");
    assert.ok(
      report.problems.some((p) => p.includes("older than generation")),
      report.problems.join("; "),
    );
  } finally {
    world.cleanup();
  }
});

test("a store written by a newer format is refused with a clear code; many keys do not exhaust secure memory", async () => {
  const world = await makeVaultWorld();
  try {
    const vault = await world.init();
    // 1,500 values in 300 namespaces, every one re-sealed: thousands of key and value buffers.
    const { Secret: S } = await import("../../src/secret/index.js");
    await vault.importValues(
      Array.from({ length: 1500 }, (_, i) => ({
        ref: `ns${i % 300}/key_${i}`,
        value: S.fromString(`v-${i}`),
      })),
      "test",
    );
    await vault.rotateDek(undefined, { rewrite: true });
    await vault.rotateKek();
    assert.equal((await vault.get("ns7/key_1207")).expose(), "v-1207");
    vault.close();

    const path = join(world.vaultDir, VAULT_FILE);
    const doc = JSON.parse(readFileSync(path, "utf8"));
    doc.format = "keyhold-vault-file/2";
    writeFileSync(path, JSON.stringify(doc));
    await assert.rejects(world.open(), code("FORMAT_UNSUPPORTED"));
  } finally {
    world.cleanup();
  }
});

test("a long-lived handle keeps working after another handle rotated the master", async () => {
  const world = await makeVaultWorld();
  try {
    const first = await world.init();
    await first.put("a/x", "before");
    const second = await world.open();
    await second.rotateMaster();
    await second.put("b/y", "new namespace under the new master");
    second.close();
    // `first` still holds the old master: reads and writes pick up the new one from the provider.
    assert.equal((await first.get("b/y")).expose(), "new namespace under the new master");
    assert.deepEqual(await first.put("a/x", "after"), { version: 2 });
    assert.equal((await first.get("a/x")).expose(), "after");
    assert.equal(first.keyVersions().master, 2);
    first.close();
  } finally {
    world.cleanup();
  }
});

test("a stale handle never seals a new namespace's key under the old master", async () => {
  const world = await makeVaultWorld();
  try {
    const stale = await world.init();
    await stale.put("a/x", "v");
    const other = await world.open();
    await other.rotateMaster();
    other.close();
    await stale.put("fresh/key", "made by the stale handle");
    stale.close();
    // A third handle, holding only the new master, must open what the stale one wrote.
    const third = await world.open();
    assert.equal((await third.get("fresh/key")).expose(), "made by the stale handle");
    third.close();
  } finally {
    world.cleanup();
  }
});

test("file backend: a restored older vault.json is refused, even once a writer has committed on top of it", async () => {
  const world = await makeVaultWorld();
  try {
    const vault = await world.init();
    await vault.put("app/key", "one");
    const path = join(world.vaultDir, VAULT_FILE);
    const older = readFileSync(path);
    // A long-lived handle (a service) opened before the restore and writes after it.
    const longLived = await world.open();
    await vault.put("app/key", "two");
    vault.close();
    writeFileSync(path, older);
    await assert.rejects(longLived.put("other/thing", "on top of the old copy"), code("VAULT_ROLLBACK"));
    assert.deepEqual(readFileSync(path), older, "nothing was written on top of the old copy");
    const report = await longLived.verify();
    assert.deepEqual([report.ok, report.history], [false, "rolled-back"]);
    longLived.close();
    await assert.rejects(world.open(), code("VAULT_ROLLBACK"));
  } finally {
    world.cleanup();
  }
});

test("file backend shared by two hosts: a restored older copy written to by the other host is a fork", async () => {
  const a = await makeVaultWorld("keyhold-file-host-a-");
  const b = await makeVaultWorld("keyhold-file-host-b-");
  try {
    const vaultA = await a.init();
    await vaultA.put("app/key", "value");
    await vaultA.registerManifest({ plugin: "plugin1", needs: [{ ns: "app", name: "key", ops: ["read"] }] });
    const master = await vaultA.exportMaster();
    // B keeps its own state directory and its own copy of the master, on the same vault file.
    const vaultB = await joinVault({ ...b.options, backend: a.backend, master });
    master.dispose();
    await vaultA.grant("plugin1", { ns: "app", name: "key", ops: ["read"] });
    vaultB.close();
    const seenByB = await openVault({ ...b.options, backend: a.backend });
    assert.equal((await seenByB.scope("plugin1").get("app/key")).expose(), "value");
    seenByB.close();

    const path = join(a.vaultDir, VAULT_FILE);
    const older = readFileSync(path);
    await vaultA.revoke("plugin1", "app", "key");
    vaultA.close();
    writeFileSync(path, older);
    const writerB = await openVault({ ...b.options, backend: a.backend });
    await writerB.put("other/thing", "unrelated");
    writerB.close();

    await assert.rejects(a.open(), (err: unknown) => {
      assert.ok(isSecretError(err, "VAULT_FORKED"), String(err));
      assert.match(err.message, /generation \d+/);
      assert.match(err.hint ?? "", /\.seen/);
      return true;
    });
  } finally {
    a.cleanup();
    b.cleanup();
  }
});
