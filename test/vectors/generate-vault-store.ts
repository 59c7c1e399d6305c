/**
 * Writes a complete vault store of the current format to test/vectors/vault-stores/format-N/, with
 * the values it must give back (expect.json). These stores are kept forever: every later keyhold
 * must open and read every one of them (test/vault/stores.test.ts), which is what "reading stores
 * written by an older format version" means in practice. Run once per new format, never to
 * refresh an existing directory:
 *   node dist/test/vectors/generate-vault-store.js test/vectors/vault-stores/format-1
 *
 * The passphrase provider keeps everything needed to open the store inside it, so the store opens
 * anywhere; the passphrase and values are made-up test data.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Secret } from "../../src/secret/index.js";
import { FileBackend, initVault, passphraseProvider, VAULT_FILE } from "../../src/vault/index.js";
import { VAULT_FORMAT } from "../../src/vault/records.js";

export const STORE_PASSPHRASE = "keyhold format fixture: not a secret";
export const STORE_ARGON2 = { ops: 2, mem: 8 * 1024 * 1024 };

export interface StoreExpectations {
  format: number;
  passphrase: string;
  /** ns/name → version → value (UTF-8); "current" names the version get returns. */
  secrets: Record<string, { current: number; versions: Record<string, string> }>;
  expired: string[];
  grants: Record<string, string[]>;
}

async function generate(out: string): Promise<void> {
  if (existsSync(join(out, VAULT_FILE)))
    throw new Error(`${out} already holds a store: these are kept, not refreshed`);
  const state = mkdtempSync(join(tmpdir(), "keyhold-store-fixture-"));
  const pass = Secret.fromString(STORE_PASSPHRASE);
  const vault = await initVault({
    backend: new FileBackend({ dir: out }),
    provider: passphraseProvider({ passphrase: pass, argon2: STORE_ARGON2 }),
    stateDir: state,
    schedule: { kek: "90d", dek: "30d" },
  });
  const value = (ref: string, v: number) => `fixture value of ${ref} v${v} ✓`;
  await vault.put("weather/api_key", value("weather/api_key", 1));
  await vault.put("weather/api_key", value("weather/api_key", 2));
  await vault.put("billing/stripe", value("billing/stripe", 1));
  await vault.rotateKek({ reason: "fixture" });
  await vault.put("billing/stripe", value("billing/stripe", 2));
  await vault.rotateDek("weather");
  await vault.put("weather/api_key", value("weather/api_key", 3));
  await vault.rollback("weather/api_key", { to: 2 });
  await vault.rotateMaster({ passphrase: pass, reason: "fixture" });
  await vault.put("legacy/old_token", value("legacy/old_token", 1), {
    expires: new Date("2026-01-01T00:00:00Z"),
  });
  await vault.registerManifest({
    plugin: "weather",
    needs: [{ ns: "weather", name: "*", ops: ["list", "read"] }],
  });
  await vault.grant("weather", { ns: "weather", name: "api_key", ops: ["read"] }, { passphrase: pass });
  vault.close();
  const expect: StoreExpectations = {
    format: VAULT_FORMAT,
    passphrase: STORE_PASSPHRASE,
    secrets: {
      "weather/api_key": {
        current: 2,
        versions: Object.fromEntries([1, 2, 3].map((v) => [String(v), value("weather/api_key", v)])),
      },
      "billing/stripe": {
        current: 2,
        versions: Object.fromEntries([1, 2].map((v) => [String(v), value("billing/stripe", v)])),
      },
    },
    expired: ["legacy/old_token"],
    grants: { weather: ["weather/api_key"] },
  };
  writeFileSync(join(out, "expect.json"), `${JSON.stringify(expect, null, 2)}\n`);
  rmSync(state, { recursive: true, force: true });
  pass.dispose();
}

if (process.argv[1]?.endsWith("generate-vault-store.js")) {
  const out = process.argv[2];
  if (out === undefined) throw new Error("usage: generate-vault-store.js OUT_DIR");
  await generate(out);
}
