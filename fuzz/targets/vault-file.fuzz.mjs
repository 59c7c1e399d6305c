// The vault file and its records (src/vault/file-backend.ts, vault.ts): a vault.json that
// someone with write access to the store changed. Seeds are a real vault (fuzz/vault-fixture.mjs).
// Invariants: opening either fails with a coded error or succeeds; every value read from an
// opened vault is one that was stored (the file cannot be edited into a new or swapped value); no
// stored value appears in any error.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertNoCanary, check, expectCoded, scratchDir } from "../support.mjs";
import { openFixtureVault, SEED_SECRETS } from "../vault-fixture.mjs";

const dir = scratchDir("vault");
mkdirSync(join(dir, "vault"), { mode: 0o700 });
const OPEN_CODES = ["VAULT_TAMPERED", "FORMAT_UNSUPPORTED", "MASTER_KEY_MISSING", "VAULT_NOT_FOUND"];
const READ_CODES = ["VAULT_TAMPERED", "SECRET_NOT_FOUND", "DECRYPT_FAILED", "EXPIRED"];
const STORED = new Map(SEED_SECRETS.map(([ns, name, value]) => [value, `${ns}/${name}`]));

function noValueIn(err) {
  for (const value of STORED.keys()) assertNoCanary(err, value);
}

export async function fuzz(data) {
  writeFileSync(join(dir, "vault", "vault.json"), data, { mode: 0o600 });
  let vault;
  try {
    vault = await openFixtureVault(dir);
  } catch (err) {
    noValueIn(err);
    expectCoded(err, OPEN_CODES);
    return;
  }
  try {
    for (const info of await vault.list()) {
      const ref = `${info.ns}/${info.name}`;
      for (let version = 1; version <= info.versions + 1; version++) {
        try {
          const value = (await vault.get(ref, { version })).expose();
          check(STORED.get(value) === ref, `a changed file made ${ref} v${version} read a value never stored there`);
        } catch (err) {
          noValueIn(err);
          expectCoded(err, [...READ_CODES, "VERSION_NOT_FOUND"]);
        }
      }
    }
  } catch (err) {
    noValueIn(err);
    expectCoded(err, READ_CODES);
  } finally {
    vault.close();
  }
}
