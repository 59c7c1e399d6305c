import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isSecretError, Secret } from "../../src/secret/index.js";
import { FileBackend, openVault, passphraseProvider, VAULT_FILE } from "../../src/vault/index.js";
import { VAULT_FORMAT } from "../../src/vault/records.js";
import { makeScratch } from "../support/scratch.js";
import { STORE_ARGON2, type StoreExpectations } from "../vectors/generate-vault-store.js";

/**
 * Every store kept in test/vectors/vault-stores/ (one per format version, written by the keyhold
 * of that version and never refreshed) still opens, verifies and gives back every value and
 * version it was written with, its expiry and its grants; and the store can be written again. A
 * reader that breaks an older format fails here. docs/vault-format.md "Format versions and upgrades".
 */

const STORES = join(import.meta.dirname, "..", "..", "..", "test", "vectors", "vault-stores");
const code = (c: string) => (err: unknown) => isSecretError(err, c as never);

const formats = readdirSync(STORES).filter((d) => d.startsWith("format-"));

/** The meta and head bodies, the head's MAC, the history's links and the MACs' XOR, as a copy of a store holds them. */
function stored(dir: string) {
  const records = JSON.parse(readFileSync(join(dir, VAULT_FILE), "utf8")).records as Record<
    string,
    { v: string }
  >;
  const envelope = (key: string) => JSON.parse(records[key]?.v ?? "null") as { b: string; m: string };
  const links = Object.keys(records)
    .filter((k) => k.startsWith("chain/"))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
    .flatMap((k) => (JSON.parse(envelope(k).b) as { links: string[] }).links);
  const xor = Buffer.alloc(32);
  for (const key of Object.keys(records).filter((k) => k !== "head")) {
    const mac = Buffer.from(envelope(key).m, "base64");
    for (let i = 0; i < 32; i++) xor[i] = (xor[i] as number) ^ (mac[i] as number);
  }
  return {
    meta: JSON.parse(envelope("meta").b),
    head: JSON.parse(envelope("head").b),
    headMac: envelope("head").m,
    links,
    /** The XOR of every record's MAC but head's: the digest of format 1 and 2. */
    xor: xor.toString("base64"),
  };
}

describe("stores written by every format version", () => {
  const scratch = makeScratch("keyhold-stores-");
  after(() => scratch.cleanup());

  it("there is the first format's store and the current one's", () => {
    assert.ok(formats.includes("format-1"), formats.join(", "));
    assert.ok(formats.includes(`format-${VAULT_FORMAT}`), "the current format's store is kept too");
  });

  for (const format of formats) {
    it(`${format}: opens, verifies and reads back every value, version, expiry and grant`, async () => {
      const source = join(STORES, format);
      const expect = JSON.parse(readFileSync(join(source, "expect.json"), "utf8")) as StoreExpectations;
      const fixtureDigest = createHash("sha256")
        .update(readFileSync(join(source, VAULT_FILE)))
        .digest("hex");
      // Work on a copy: the kept store must never change.
      const dir = join(scratch.root, format);
      mkdirSync(dir, { mode: 0o700 });
      copyFileSync(join(source, VAULT_FILE), join(dir, VAULT_FILE));
      const state = join(scratch.root, `${format}-state`);
      mkdirSync(state, { mode: 0o700 });
      const pass = Secret.fromString(expect.passphrase);
      const open = () =>
        openVault({
          backend: new FileBackend({ dir }),
          provider: passphraseProvider({ passphrase: pass, argon2: STORE_ARGON2 }),
          stateDir: state,
        });
      const vault = await open();
      try {
        assert.deepEqual((await vault.verify()).problems, []);
        for (const [ref, s] of Object.entries(expect.secrets)) {
          const current = await vault.get(ref);
          assert.equal(current.expose(), s.versions[String(s.current)], `${ref} current`);
          current.dispose();
          for (const [v, value] of Object.entries(s.versions)) {
            const got = await vault.get(ref, { version: Number(v) });
            assert.equal(got.expose(), value, `${ref} v${v}`);
            got.dispose();
          }
        }
        for (const ref of expect.expired) await assert.rejects(vault.get(ref), code("EXPIRED"));
        const listed = (await vault.list()).map((i) => `${i.ns}/${i.name}`);
        assert.deepEqual(listed.sort(), [...Object.keys(expect.secrets), ...expect.expired].sort());
        for (const [plugin, refs] of Object.entries(expect.grants)) {
          const scoped = vault.scope(plugin);
          for (const ref of refs) (await scoped.get(ref)).dispose();
          const other = Object.keys(expect.secrets).find((r) => !refs.includes(r));
          if (other !== undefined) await assert.rejects(scoped.get(other), code("ACCESS_DENIED"));
        }
        // The old store takes new writes, and reads them back after a fresh open.
        const before = stored(dir);
        await vault.put("fixture/new", "written by this keyhold");
        const upgraded = stored(dir);
        await vault.rotateKek({ reason: "after reading an older store" });
        const next = stored(dir);
        // The first write upgrades an older store in the same commit (docs/vault-format.md section 8).
        assert.equal(upgraded.meta.format, VAULT_FORMAT);
        assert.equal(upgraded.head.generation, before.head.generation + 1);
        if (expect.format < 2) {
          assert.equal(before.head.since, undefined, "a format 1 head has no history");
          assert.deepEqual([upgraded.head.since, upgraded.head.prev], [upgraded.head.generation, null]);
        } else {
          // A format 2 store's history goes on through the upgrade: the first format 3 head names
          // the last format 2 one, which the history now holds.
          assert.deepEqual([upgraded.head.since, upgraded.head.prev], [before.head.since, before.headMac]);
          assert.equal(upgraded.links.at(-1), before.headMac);
        }
        // Format 3 heads name their format (the digest is then the HMAC over every record's MAC);
        // the heads of older formats do not (their digest is the XOR of the MACs).
        assert.equal(before.head.format, expect.format >= 3 ? expect.format : undefined);
        assert.equal(upgraded.head.format, VAULT_FORMAT);
        assert.equal(
          before.xor === before.head.digest,
          expect.format < 3,
          "an older store's digest is the XOR",
        );
        assert.notEqual(upgraded.xor, upgraded.head.digest, "a format 3 digest is not the XOR");
        // From then on every head names the one before it, which the history keeps.
        assert.equal(next.head.prev, upgraded.headMac);
        assert.equal(next.links.at(-1), upgraded.headMac);
      } finally {
        vault.close();
      }
      const again = await open();
      try {
        const fresh = await again.get("fixture/new");
        assert.equal(fresh.expose(), "written by this keyhold");
        fresh.dispose();
        const [ref, s] = Object.entries(expect.secrets)[0] as [string, StoreExpectations["secrets"][string]];
        const old = await again.get(ref, { version: 1 });
        assert.equal(old.expose(), s.versions["1"], "old values survive a rotation after the upgrade");
        old.dispose();
      } finally {
        again.close();
        pass.dispose();
      }
      const after = createHash("sha256")
        .update(readFileSync(join(source, VAULT_FILE)))
        .digest("hex");
      assert.equal(after, fixtureDigest, "the kept store is unchanged");
    });
  }
});
