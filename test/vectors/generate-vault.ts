/**
 * Writes test/vectors/vault/*.txt from docs/vault-format.md's construction, using keyhold's own
 * sealing code with fixed keys and nonces. Run after a build:
 *   node dist/test/vectors/generate-vault.js test/vectors/vault
 * Each file is one vector: `key: value` lines, `expect:` being `success` or the error code.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  dekAd,
  deriveKek,
  masterCheck,
  recordMac,
  seal,
  toSecureKey,
  valueAd,
} from "../../src/vault/crypto.js";

function fixed(label: string, size: number): Buffer {
  return createHash("sha256").update(`keyhold vault vector ${label}`).digest().subarray(0, size);
}

type Vector = Record<string, string | number>;

function render(v: Vector): string {
  return `${Object.entries(v)
    .map(([k, val]) => `${k}: ${val}`)
    .join("\n")}\n`;
}

export function generateVaultVectors(): Record<string, Vector> {
  const out: Record<string, Vector> = {};
  const master = fixed("master", 32);
  const storeId = fixed("store id", 16);
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

  for (const kekVersion of [1, 2, 7]) {
    const kek = deriveKek(toSecureKey(Buffer.from(master)), storeId, kekVersion);
    out[`kek-v${kekVersion}`] = {
      kind: "kek",
      expect: "success",
      master: hex(master),
      "store-id": hex(storeId),
      "kek-version": kekVersion,
      kek: hex(kek),
      "master-check": hex(masterCheck(toSecureKey(Buffer.from(master)), storeId)),
    };
  }

  const kek = deriveKek(toSecureKey(Buffer.from(master)), storeId, 1);
  const dek = fixed("dek weather 1", 32);
  const dekNonce = fixed("dek nonce", 24);
  const wrapped = seal(kek, dek, dekAd(storeId, "weather", 1, 1), dekNonce);
  const dekBase = {
    kind: "dek",
    kek: hex(kek),
    "store-id": hex(storeId),
    namespace: "weather",
    "dek-version": 1,
    "kek-version": 1,
    nonce: hex(wrapped.nonce),
    ciphertext: hex(wrapped.ciphertext),
  };
  out["dek-ok"] = { ...dekBase, expect: "success", dek: hex(dek) };
  out["dek-wrong-namespace"] = { ...dekBase, expect: "DECRYPT_FAILED", namespace: "billing" };
  out["dek-wrong-kek-version"] = { ...dekBase, expect: "DECRYPT_FAILED", "kek-version": 2 };
  out["dek-wrong-dek-version"] = { ...dekBase, expect: "DECRYPT_FAILED", "dek-version": 2 };

  const plaintexts: Record<string, Buffer> = {
    ascii: Buffer.from("sk-live-0123456789abcdef", "utf8"),
    "one-byte": Buffer.from([0x41]),
    binary: fixed("binary value", 32),
    utf8: Buffer.from("clé-ключ-鍵", "utf8"),
    long: Buffer.alloc(4096, 0x5a),
  };
  let i = 0;
  for (const [label, plaintext] of Object.entries(plaintexts)) {
    const nonce = fixed(`value nonce ${i++}`, 24);
    const sealed = seal(
      toSecureKey(Buffer.from(dek)),
      plaintext,
      valueAd(storeId, "weather", "api_key", 3, 1),
      nonce,
    );
    out[`value-${label}`] = {
      kind: "value",
      expect: "success",
      dek: hex(dek),
      "store-id": hex(storeId),
      namespace: "weather",
      name: "api_key",
      version: 3,
      "dek-version": 1,
      nonce: hex(sealed.nonce),
      ciphertext: hex(sealed.ciphertext),
      plaintext: hex(plaintext),
    };
  }

  const base = out["value-ascii"]!;
  const ct = Buffer.from(String(base.ciphertext), "hex");
  const flip = (at: number) => {
    const c = Buffer.from(ct);
    c[at] = (c[at] ?? 0) ^ 0x01;
    return hex(c);
  };
  const fail = { ...base, expect: "DECRYPT_FAILED" } as Vector;
  delete fail.plaintext;
  out["value-flipped-ciphertext"] = { ...fail, ciphertext: flip(0) };
  out["value-flipped-tag"] = { ...fail, ciphertext: flip(ct.length - 1) };
  out["value-truncated"] = { ...fail, ciphertext: hex(ct.subarray(0, ct.length - 1)) };
  out["value-too-short"] = { ...fail, ciphertext: hex(ct.subarray(0, 8)) };
  out["value-swapped-name"] = { ...fail, name: "other_key" };
  out["value-swapped-namespace"] = { ...fail, namespace: "billing" };
  out["value-other-version"] = { ...fail, version: 2 };
  out["value-other-dek-version"] = { ...fail, "dek-version": 2 };
  out["value-other-store"] = { ...fail, "store-id": hex(fixed("another store", 16)) };
  out["value-other-nonce"] = { ...fail, nonce: hex(fixed("another nonce", 24)) };
  out["value-wrong-dek"] = { ...fail, dek: hex(fixed("another dek", 32)) };

  const ik = fixed("integrity key", 32);
  const body = JSON.stringify({ ns: "weather", name: "api_key", current: 1, versions: [] });
  const mac = recordMac(toSecureKey(Buffer.from(ik)), "secret/weather/api_key", body);
  const recordBase = {
    kind: "record",
    ik: hex(ik),
    key: "secret/weather/api_key",
    body,
    mac: mac.toString("base64"),
  };
  out["record-ok"] = { ...recordBase, expect: "success" };
  out["record-edited-body"] = {
    ...recordBase,
    expect: "VAULT_TAMPERED",
    body: body.replace('"current":1', '"current":2'),
  };
  out["record-moved-key"] = { ...recordBase, expect: "VAULT_TAMPERED", key: "secret/weather/other_key" };

  // Format 2's head chain (docs/vault-format.md section 4): three heads, each naming the MAC of the
  // one before it, the history record holding the first two, and what a host remembered.
  const ikKey = () => toSecureKey(Buffer.from(ik));
  const headBody = (generation: number, prev: string | null, digestLabel: string) =>
    JSON.stringify({
      generation,
      prev,
      since: 1,
      count: 3 + (generation > 1 ? 1 : 0),
      digest: fixed(digestLabel, 32).toString("base64"),
      seals: {
        [fixed("host id", 16).toString("hex")]: {
          seq: generation + 1,
          mac: hex(fixed(`audit ${generation}`, 32)),
        },
      },
      updated: `2030-01-01T00:00:0${generation}.000Z`,
    });
  const headMac = (b: string) => recordMac(ikKey(), "head", b).toString("base64");
  const h1 = headBody(1, null, "digest 1");
  const h2 = headBody(2, headMac(h1), "digest 2");
  const h3 = headBody(3, headMac(h2), "digest 3");
  const chain0 = JSON.stringify({ first: 1, links: [headMac(h1), headMac(h2)] });
  const chainBase = {
    kind: "head-chain",
    ik: hex(ik),
    "head-1": h1,
    "head-1-mac": headMac(h1),
    "head-2": h2,
    "head-2-mac": headMac(h2),
    "head-3": h3,
    "head-3-mac": headMac(h3),
    "chain-0": chain0,
    "chain-0-mac": recordMac(ikKey(), "chain/0", chain0).toString("base64"),
  };
  out["head-chain-extends"] = {
    ...chainBase,
    expect: "success",
    "seen-generation": 2,
    "seen-head": headMac(h2),
  };
  out["head-chain-unchanged"] = {
    ...chainBase,
    expect: "success",
    "seen-generation": 3,
    "seen-head": headMac(h3),
  };
  // Another head of generation 2: a copy of generation 1 put back and written to.
  const fork2 = headBody(2, headMac(h1), "digest 2 on the other branch");
  out["head-chain-forked"] = {
    ...chainBase,
    expect: "VAULT_FORKED",
    "seen-generation": 2,
    "seen-head": headMac(fork2),
  };
  out["head-chain-rolled-back"] = {
    ...chainBase,
    expect: "VAULT_ROLLBACK",
    "seen-generation": 4,
    "seen-head": headMac(headBody(4, headMac(h3), "digest 4")),
  };
  out["head-chain-edited-head"] = {
    ...chainBase,
    expect: "VAULT_TAMPERED",
    "head-3": h3.replace('"generation":3', '"generation":4'),
    "seen-generation": 2,
    "seen-head": headMac(h2),
  };
  // Correctly MACed, but its prev is not the history's last link.
  const stray = headBody(3, headMac(fork2), "digest 3");
  out["head-chain-broken-link"] = {
    ...chainBase,
    expect: "VAULT_TAMPERED",
    "head-3": stray,
    "head-3-mac": headMac(stray),
    "seen-generation": 1,
    "seen-head": headMac(h1),
  };
  return out;
}

const target = process.argv[2];
if (target !== undefined) {
  mkdirSync(target, { recursive: true });
  for (const f of readdirSync(target)) if (f.endsWith(".txt")) rmSync(join(target, f));
  for (const [name, vector] of Object.entries(generateVaultVectors()))
    writeFileSync(join(target, `${name}.txt`), render(vector));
}
