import assert from "node:assert/strict";
import { test } from "node:test";
import { isSecretError } from "../../src/secret/index.js";
import { parseManifest } from "../../src/vault/index.js";
import { makeVaultWorld } from "./support.js";

const code = (c: string) => (err: unknown) => isSecretError(err) && err.code === c;

test("a plugin's scoped handle reaches only what its manifest declares and its policy grants", async () => {
  const world = await makeVaultWorld();
  try {
    const vault = await world.init();
    await vault.put("weather/api_key", "w-key");
    await vault.put("weather/backup_key", "w-backup");
    await vault.put("billing/stripe", "s-key");

    const manifest = parseManifest(
      JSON.stringify({ plugin: "weather", needs: [{ ns: "weather", name: "*", ops: ["read", "list"] }] }),
    );
    await vault.registerManifest(manifest);
    // Grants beyond the manifest are refused.
    await assert.rejects(
      vault.grant("weather", { ns: "billing", name: "stripe", ops: ["read"] }),
      code("ACCESS_DENIED"),
    );
    await assert.rejects(
      vault.grant("weather", { ns: "weather", name: "api_key", ops: ["write"] }),
      code("ACCESS_DENIED"),
    );
    await vault.grant("weather", { ns: "weather", name: "api_key", ops: ["read"] });

    const plugin = vault.scope("weather");
    assert.equal((await plugin.get("weather/api_key")).expose(), "w-key");
    await assert.rejects(plugin.get("weather/backup_key"), code("ACCESS_DENIED"));
    await assert.rejects(plugin.get("billing/stripe"), code("ACCESS_DENIED"));
    await assert.rejects(plugin.put("weather/api_key", "overwrite"), code("ACCESS_DENIED"));
    await assert.rejects(plugin.list("weather"), code("ACCESS_DENIED"));
    assert.equal((await vault.get("weather/api_key")).expose(), "w-key", "the denied put changed nothing");

    await vault.grant("weather", { ns: "weather", name: "*", ops: ["list", "read"] });
    assert.deepEqual(
      (await plugin.list("weather")).map((s) => s.name),
      ["api_key", "backup_key"],
    );
    assert.deepEqual(
      (await plugin.list()).map((s) => s.ns),
      ["weather", "weather"],
      "other namespaces are not listed",
    );
    await vault.revoke("weather", "weather", "*");
    await vault.revoke("weather", "weather", "api_key");
    // A grant forgives the plugin's denials before it; the fifth new denial in a minute locks it out.
    for (let i = 0; i < 5; i++)
      await assert.rejects(vault.scope("weather").get("weather/api_key"), code("ACCESS_DENIED"));
    await assert.rejects(vault.scope("weather").get("weather/api_key"), code("LOCKED_OUT"));

    // An unknown plugin (no manifest) gets nothing.
    await assert.rejects(vault.scope("stranger").get("weather/api_key"), code("ACCESS_DENIED"));
    vault.close();

    const records = await world.audit.read();
    const denials = records.filter((r) => r.result === "denied");
    assert.ok(denials.length >= 5);
    assert.ok(denials.every((r) => r.detail?.plugin !== undefined || r.op === "vault.grant"));
    assert.ok(
      records.some((r) => r.op === "vault.get" && r.result === "ok" && r.detail?.plugin === "weather"),
    );
    assert.ok(records.some((r) => r.op === "vault.grant" && r.result === "ok"));
  } finally {
    world.cleanup();
  }
});

test("repeated denials lock a plugin out; bursts beyond the rate are refused", async () => {
  let now = 1_000_000;
  const world = await makeVaultWorld();
  try {
    const vault = await world.init({
      now: () => new Date(now),
      limits: { burst: 5, perSecond: 1, maxDenials: 3, windowMs: 10_000, lockoutMs: 60_000 },
    });
    await vault.put("ns/granted", "ok");
    await vault.put("ns/secret", "no");
    await vault.registerManifest({ plugin: "p", needs: [{ ns: "ns", name: "granted", ops: ["read"] }] });
    await vault.grant("p", { ns: "ns", name: "granted", ops: ["read"] });
    const p = vault.scope("p");
    for (let i = 0; i < 3; i++) await assert.rejects(p.get("ns/secret"), code("ACCESS_DENIED"));
    // Locked out: even what is granted is refused until the lockout ends.
    await assert.rejects(p.get("ns/granted"), code("LOCKED_OUT"));
    now += 61_000;
    assert.equal((await p.get("ns/granted")).expose(), "ok");
    // The bucket holds 5 attempts and refills at 1 per second.
    for (let i = 0; i < 4; i++) await p.get("ns/granted");
    await assert.rejects(p.get("ns/granted"), code("RATE_LIMITED"));
    now += 1_000;
    assert.equal((await p.get("ns/granted")).expose(), "ok");
    const audit = await world.audit.read();
    assert.ok(audit.some((r) => r.code === "LOCKED_OUT"));
    assert.ok(audit.some((r) => r.code === "RATE_LIMITED"));
    vault.close();
  } finally {
    world.cleanup();
  }
});

test("manifests and rules are validated", () => {
  const bad = [
    "not json",
    "{}",
    JSON.stringify({ plugin: "bad name", needs: [] }),
    JSON.stringify({ plugin: "p", needs: [{ ns: "../x", name: "*", ops: ["read"] }] }),
    JSON.stringify({ plugin: "p", needs: [{ ns: "a", name: "*", ops: [] }] }),
    JSON.stringify({ plugin: "p", needs: [{ ns: "a", name: "*", ops: ["admin"] }] }),
  ];
  for (const text of bad)
    assert.throws(
      () => parseManifest(text),
      (err: unknown) => isSecretError(err),
      text,
    );
});
