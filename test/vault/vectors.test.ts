import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { isSecretError } from "../../src/secret/index.js";
import {
  dekAd,
  deriveKek,
  masterCheck,
  open,
  recordMac,
  storeDigest,
  toSecureKey,
  valueAd,
} from "../../src/vault/crypto.js";
import { chainKey, chainProblems, historyError, judgeHistory, linkIn } from "../../src/vault/history.js";
import { generateVaultVectors } from "../vectors/generate-vault.js";
import { readVector } from "./support.js";

// dist/test/vault → the source tree's vectors (they are data, not compiled).
const VECTORS = join(import.meta.dirname, "..", "..", "..", "test", "vectors", "vault");
const files = readdirSync(VECTORS)
  .filter((f) => f.endsWith(".txt"))
  .sort();
const hex = (s: string | undefined) => Buffer.from(s ?? "", "hex");

// An independent reading of docs/vault-format.md: HKDF from HMAC by hand, AD built here, AEAD by @noble/ciphers.
function hkdf(ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer {
  const prk = createHmac("sha256", salt).update(ikm).digest();
  let t = Buffer.alloc(0);
  const out: Buffer[] = [];
  for (let i = 1; Buffer.concat(out).length < length; i++) {
    t = createHmac("sha256", prk)
      .update(Buffer.concat([t, info, Buffer.from([i])]))
      .digest();
    out.push(t);
  }
  return Buffer.concat(out).subarray(0, length);
}
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
const lp = (b: Buffer) => Buffer.concat([u16(b.length), b]);
function independentValueAd(v: Record<string, string>): Buffer {
  return Buffer.concat([
    Buffer.from("keyhold-vault/v1/value\0", "ascii"),
    lp(hex(v["store-id"])),
    lp(Buffer.from(v.namespace ?? "", "utf8")),
    lp(Buffer.from(v.name ?? "", "utf8")),
    u32(Number(v.version)),
    u32(Number(v["dek-version"])),
  ]);
}

test("the vectors on disk are what the generator produces from the spec's construction", () => {
  const generated = generateVaultVectors();
  assert.deepEqual(
    files,
    Object.keys(generated)
      .map((n) => `${n}.txt`)
      .sort(),
  );
  for (const [name, vector] of Object.entries(generated)) {
    const onDisk = readVector(join(VECTORS, `${name}.txt`));
    // Nonces and keys are fixed, so everything is reproducible byte for byte.
    assert.deepEqual(
      onDisk,
      Object.fromEntries(Object.entries(vector).map(([k, v]) => [k, String(v)])),
      name,
    );
  }
  assert.ok(files.length >= 20);
});

/** A head-chain vector through keyhold's own code: record MACs, the history's shape, the host's verdict. */
async function judgeChainVector(v: Record<string, string>): Promise<void> {
  const ik = toSecureKey(hex(v.ik));
  const tampered = () => Object.assign(new Error("record mac mismatch"), { code: "VAULT_TAMPERED" });
  for (const n of [1, 2, 3])
    if (recordMac(ik, "head", v[`head-${n}`] ?? "").toString("base64") !== v[`head-${n}-mac`])
      throw tampered();
  if (recordMac(ik, "chain/0", v["chain-0"] ?? "").toString("base64") !== v["chain-0-mac"]) throw tampered();
  const head = JSON.parse(v["head-3"] ?? "{}");
  const segments = new Map([["chain/0", JSON.parse(v["chain-0"] ?? "{}")]]);
  if (chainProblems(head, true, segments).length > 0) throw tampered();
  // "none": the host remembers the generation of a format 1 head only.
  const seenHead = v["seen-head"] === "none" ? null : (v["seen-head"] ?? null);
  const verdict = await judgeHistory(
    { generation: Number(v["seen-generation"]), head: seenHead, host: null, retired: [] },
    {
      generation: head.generation,
      head: v["head-3-mac"] ?? "",
      since: head.since,
      master: "",
      linkAt: async (g) => linkIn(segments.get(chainKey(g)), g),
    },
  );
  const refused = historyError(verdict, "vault.seen");
  if (refused !== undefined) throw refused;
}

for (const file of files) {
  test(`vector ${file}`, async () => {
    const v = readVector(join(VECTORS, file));
    if (v.kind === "head-chain") {
      if (v.expect === "success") await judgeChainVector(v);
      else
        await assert.rejects(
          judgeChainVector(v),
          (err: unknown) => (err as { code?: string }).code === v.expect,
        );
      return;
    }
    const expect = v.expect;
    assert.ok(expect, "every vector states its expectation");
    const attempt = (): Buffer => {
      switch (v.kind) {
        case "kek": {
          const kek = deriveKek(toSecureKey(hex(v.master)), hex(v["store-id"]), Number(v["kek-version"]));
          assert.equal(
            masterCheck(toSecureKey(hex(v.master)), hex(v["store-id"])).toString("hex"),
            v["master-check"],
          );
          return Buffer.from(kek);
        }
        case "dek":
          return open(
            toSecureKey(hex(v.kek)),
            hex(v.nonce),
            hex(v.ciphertext),
            dekAd(hex(v["store-id"]), v.namespace ?? "", Number(v["dek-version"]), Number(v["kek-version"])),
            "dek",
          );
        case "value":
          return open(
            toSecureKey(hex(v.dek)),
            hex(v.nonce),
            hex(v.ciphertext),
            valueAd(
              hex(v["store-id"]),
              v.namespace ?? "",
              v.name ?? "",
              Number(v.version),
              Number(v["dek-version"]),
            ),
            "value",
          );
        case "store-digest": {
          const records = JSON.parse(v.records ?? "[]") as Array<[string, string]>;
          const digest = storeDigest(
            toSecureKey(hex(v.ik)),
            new Map(records.map(([k, m]) => [k, Buffer.from(m, "base64")])),
          );
          if (digest.toString("base64") !== v.digest)
            throw Object.assign(new Error("store digest mismatch"), { code: "VAULT_TAMPERED" });
          return digest;
        }
        case "record": {
          const mac = recordMac(toSecureKey(hex(v.ik)), v.key ?? "", v.body ?? "");
          if (mac.toString("base64") !== v.mac)
            throw Object.assign(new Error("record mac mismatch"), { code: "VAULT_TAMPERED" });
          return mac;
        }
        default:
          throw new Error(`unknown vector kind ${v.kind}`);
      }
    };
    if (expect === "success") {
      const out = attempt();
      const want =
        v.kind === "kek" ? v.kek : v.kind === "dek" ? v.dek : v.kind === "value" ? v.plaintext : undefined;
      if (want !== undefined) assert.equal(Buffer.from(out).toString("hex"), want);
    } else {
      assert.throws(
        attempt,
        (err: unknown) => (isSecretError(err) ? err.code : (err as { code?: string }).code) === expect,
      );
    }
  });
}

test("a second implementation (@noble/ciphers, HKDF by hand) agrees with every vector", () => {
  let successes = 0;
  for (const file of files) {
    const v = readVector(join(VECTORS, file));
    if (v.kind === "kek") {
      const info = Buffer.concat([
        Buffer.from("keyhold-vault/v1/kek", "ascii"),
        u32(Number(v["kek-version"])),
      ]);
      assert.equal(hkdf(hex(v.master), hex(v["store-id"]), info, 32).toString("hex"), v.kek, file);
      const check = hkdf(
        hex(v.master),
        hex(v["store-id"]),
        Buffer.from("keyhold-vault/v1/master-check", "ascii"),
        16,
      );
      assert.equal(check.toString("hex"), v["master-check"], file);
      successes++;
    }
    if (v.kind === "store-digest") {
      // By hand: the records sorted by the bytes of their keys, each key length-prefixed, then its MAC.
      const records = (JSON.parse(v.records ?? "[]") as Array<[string, string]>)
        .map(([k, m]) => [Buffer.from(k, "utf8"), Buffer.from(m, "base64")] as const)
        .sort(([a], [b]) => Buffer.compare(a, b));
      const digest = createHmac("sha256", hex(v.ik))
        .update(
          Buffer.concat([
            Buffer.from("keyhold-vault/v1/digest\0", "ascii"),
            ...records.flatMap(([k, m]) => [lp(k), m]),
          ]),
        )
        .digest("base64");
      assert.equal(digest === v.digest, v.expect === "success", file);
      if (v.expect === "success") successes++;
      continue;
    }
    if (v.kind === "head-chain") {
      // By hand: the record MAC's input bytes, each head naming the one before it, the history
      // holding the earlier heads, and the head the host remembered at its generation.
      const mac = (key: string, body: string) =>
        createHmac("sha256", hex(v.ik))
          .update(
            Buffer.concat([
              Buffer.from("keyhold-vault/v1/record\0", "ascii"),
              lp(Buffer.from(key)),
              Buffer.from(body),
            ]),
          )
          .digest("base64");
      const heads = [1, 2, 3].map((n) => ({ body: v[`head-${n}`] ?? "", mac: v[`head-${n}-mac`] }));
      const macsHold =
        heads.every((h) => mac("head", h.body) === h.mac) &&
        mac("chain/0", v["chain-0"] ?? "") === v["chain-0-mac"];
      const parsed = heads.map((h) => JSON.parse(h.body) as { generation: number; prev: string | null });
      const linksHold =
        parsed[0]?.prev === null &&
        parsed.every((h, i) => h.generation === i + 1 && (i === 0 || h.prev === heads[i - 1]?.mac));
      const history = [...(JSON.parse(v["chain-0"] ?? "{}").links as string[]), heads[2]?.mac];
      const seenAt = Number(v["seen-generation"]);
      const seenHolds = seenAt <= 3 && history[seenAt - 1] === v["seen-head"];
      assert.equal(macsHold && linksHold && seenHolds, v.expect === "success", file);
      if (v.expect === "success") successes++;
      continue;
    }
    if (v.kind !== "value") continue;
    const decrypt = () =>
      xchacha20poly1305(hex(v.dek), hex(v.nonce), independentValueAd(v)).decrypt(hex(v.ciphertext));
    if (v.expect === "success") {
      assert.equal(Buffer.from(decrypt()).toString("hex"), v.plaintext, file);
      successes++;
    } else {
      assert.throws(decrypt, file);
    }
  }
  assert.ok(successes >= 8);
});
