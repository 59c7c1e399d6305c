import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isSecretError } from "../../src/secret/index.js";
import { makeVaultWorld, type VaultWorld } from "../vault/support.js";

/**
 * Finding of fuzz/targets/vault-file.fuzz.mjs: the meta record is read before it can be
 * authenticated (its MAC needs the integrity key it names), and a vault.json whose meta lacked
 * "ik" (or held it with the wrong types) made opening the vault fail with a TypeError instead of
 * VAULT_TAMPERED. Whoever can write the store could make every open crash without the coded error
 * and its hint.
 */
describe("vault file findings of the fuzzer", () => {
  let world: VaultWorld;
  let original: string;
  before(async () => {
    world = await makeVaultWorld("keyhold-fuzz-vault-");
    const vault = await world.init();
    await vault.put("weather/api_key", "fuzz-regression-value");
    vault.close();
    original = readFileSync(join(world.vaultDir, "vault.json"), "utf8");
  });
  after(() => world.cleanup());

  /** vault.json with the meta record's body changed by `edit` (its MAC left as it was). */
  function withMeta(edit: (meta: Record<string, unknown>) => void): string {
    const doc = JSON.parse(original);
    const envelope = JSON.parse(doc.records.meta.v);
    const meta = JSON.parse(envelope.b);
    edit(meta);
    envelope.b = JSON.stringify(meta);
    doc.records.meta.v = JSON.stringify(envelope);
    return JSON.stringify(doc);
  }

  for (const [name, edit] of [
    ["meta without ik", (m: Record<string, unknown>) => delete m.ik],
    ["ik is null", (m: Record<string, unknown>) => (m.ik = null)],
    ["ik.kek is a string", (m: Record<string, unknown>) => (m.ik = { ...(m.ik as object), kek: "1" })],
    ["ik.kek is negative", (m: Record<string, unknown>) => (m.ik = { ...(m.ik as object), kek: -1 })],
  ] as const) {
    it(`${name}: VAULT_TAMPERED`, async () => {
      writeFileSync(join(world.vaultDir, "vault.json"), withMeta(edit));
      await assert.rejects(world.open(), (err) => isSecretError(err, "VAULT_TAMPERED"));
    });
  }
});
