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
  storeDigest,
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

  // The store digest (format 3, docs/vault-format.md section 4): one HMAC over every record's key
  // and MAC, sorted by key. Records are listed here out of order; the digest does not depend on it.
  const ikKey = () => toSecureKey(Buffer.from(ik));
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
  const records: Array<[string, string]> = [
    ["secret/weather/api_key", b64(fixed("mac of secret/weather/api_key", 32))],
    ["meta", b64(fixed("mac of meta", 32))],
    ["dek/weather", b64(fixed("mac of dek/weather", 32))],
    ["policy", b64(fixed("mac of policy", 32))],
    ["chain/0", b64(fixed("mac of chain/0", 32))],
    ["secret/billing/stripe", b64(fixed("mac of secret/billing/stripe", 32))],
  ];
  const digestOf = (set: Array<[string, string]>) =>
    b64(storeDigest(ikKey(), new Map(set.map(([k, m]) => [k, Buffer.from(m, "base64")]))));
  const digestBase = { kind: "store-digest", ik: hex(ik), digest: digestOf(records) };
  out["store-digest-ok"] = { ...digestBase, expect: "success", records: JSON.stringify(records) };
  const [first, second, ...rest] = records as [
    [string, string],
    [string, string],
    ...Array<[string, string]>,
  ];
  out["store-digest-reordered"] = {
    ...digestBase,
    expect: "success",
    records: JSON.stringify([...rest, second, first]),
  };
  // An older version of one record put back (another MAC under the same key).
  out["store-digest-replayed-record"] = {
    ...digestBase,
    expect: "VAULT_TAMPERED",
    records: JSON.stringify([[first[0], b64(fixed("mac of an older version", 32))], second, ...rest]),
  };
  out["store-digest-missing-record"] = {
    ...digestBase,
    expect: "VAULT_TAMPERED",
    records: JSON.stringify([second, ...rest]),
  };
  out["store-digest-added-record"] = {
    ...digestBase,
    expect: "VAULT_TAMPERED",
    records: JSON.stringify([...records, ["secret/extra/key", b64(fixed("mac of an extra record", 32))]]),
  };
  // Two records changed so that the XOR of all MACs (the format 1 and 2 digest) stays the same.
  const difference = fixed("the same difference", 32);
  const xored = (m: string) =>
    b64(Buffer.from(m, "base64").map((byte, i) => byte ^ (difference[i] as number)));
  out["store-digest-same-xor"] = {
    ...digestBase,
    expect: "VAULT_TAMPERED",
    records: JSON.stringify([[first[0], xored(first[1])], [second[0], xored(second[1])], ...rest]),
  };
  // The same records under another key: only a holder of the IK makes the digest.
  out["store-digest-other-key"] = {
    ...digestBase,
    expect: "VAULT_TAMPERED",
    ik: hex(fixed("another integrity key", 32)),
    records: JSON.stringify(records),
  };

  // The head chain (format 2 on, section 4): three heads, each naming the MAC of the one before
  // it, the history record holding the first two, and what a host remembered.
  const headBody = (generation: number, prev: string | null, digestLabel: string) =>
    JSON.stringify({
      format: 3,
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
  // A host that only remembers the number of a format 1 head (no MAC): a history that starts at
  // or before that generation was not written on top of it.
  out["head-chain-format1-memory"] = {
    ...chainBase,
    expect: "VAULT_FORKED",
    "seen-generation": 2,
    "seen-head": "none",
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
