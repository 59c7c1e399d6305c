import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { knownValueSet } from "../../src/scan/fingerprint-index.js";
import { PrecomputedHmacSha256, wordsToHex } from "../../src/scan/hmac-sha256.js";
import { openFingerprintIndex, SCAN_INDEX_FILE, SCAN_KEY_NAME } from "../../src/scan/index.js";
import { Secret, SecretError, SecretKey } from "../../src/secret/index.js";
import { makeCanary, makeScratch } from "../support/scratch.js";

/** Every byte left in a directory tree, as one latin1 string to search. */
function everythingUnder(dir: string): string {
  let all = "";
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) all += readFileSync(join(entry.parentPath, entry.name)).toString("latin1");
  }
  return all;
}

describe("fingerprint index", () => {
  const scratch = makeScratch("keyhold-scan-index-");
  after(() => scratch.cleanup());
  const creds = { env: scratch.env };

  it("records keyed fingerprints only: the canary, its hex/base64 and its plain SHA-256 are nowhere on disk", async () => {
    const canary = makeCanary("scan-index");
    const index = await openFingerprintIndex(scratch.state, creds);
    await index.record("canary_key", Secret.fromString(canary), "credstore");
    const disk = everythingUnder(scratch.root);
    const forms = [
      canary,
      Buffer.from(canary).toString("hex"),
      Buffer.from(canary).toString("base64"),
      createHash("sha256").update(canary).digest("hex"),
      canary.slice(0, 12),
    ];
    for (const form of forms) assert.ok(!disk.includes(form), "a form of the value reached the disk");
    const entries = index.entries();
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.length, canary.length);
    assert.equal(statSync(join(scratch.state, SCAN_INDEX_FILE)).mode & 0o777, 0o600);
    assert.equal(statSync(join(scratch.state, SCAN_KEY_NAME)).mode & 0o777, 0o600);
    // The key file is a systemd credential, not a raw key.
    assert.match(readFileSync(join(scratch.state, SCAN_KEY_NAME), "latin1"), /^[A-Za-z0-9+/=\s]+$/);
  });

  it("keeps several fingerprints per name, recognises each, and forget removes them", async () => {
    const index = await openFingerprintIndex(scratch.state, creds);
    const first = makeCanary("first");
    const second = makeCanary("second");
    await index.record("rotated_key", Secret.fromString(first), "credstore");
    await index.record("rotated_key", Secret.fromString(second), "credstore");
    await index.record("rotated_key", Secret.fromString(second), "credstore"); // same value: no new entry
    await index.record("rotated_key", Secret.fromString(second), "vault");
    assert.equal(index.entries().filter((e) => e.name === "rotated_key").length, 3);
    const known = await index.loadKnownValues();
    assert.ok(known);
    assert.deepEqual(known.lookup(Buffer.from(first)), [{ name: "rotated_key", source: "credstore" }]);
    assert.deepEqual(
      known.lookup(Buffer.from(second))?.map((o) => o.source),
      ["credstore", "vault"],
    );
    assert.equal(known.lookup(Buffer.from(`${first}x`)), undefined);
    known.dispose();
    await index.forget("rotated_key", "credstore");
    assert.deepEqual(
      index
        .entries()
        .filter((e) => e.name === "rotated_key")
        .map((e) => e.source),
      ["vault"],
    );
  });

  it("concurrent writers lose nothing: one scan key, every entry kept", async () => {
    const other = makeScratch("keyhold-scan-index-race-");
    try {
      const values = Array.from({ length: 8 }, (_, i) => makeCanary(`race-${i}`));
      await Promise.all(
        values.map(async (v, i) => {
          const index = await openFingerprintIndex(other.state, { env: other.env });
          await index.record(`race_${i}`, Secret.fromString(v), "credstore");
        }),
      );
      const index = await openFingerprintIndex(other.state, { env: other.env });
      assert.equal(index.entries().length, values.length);
      const known = await index.loadKnownValues();
      for (const [i, v] of values.entries()) {
        assert.deepEqual(known?.lookup(Buffer.from(v)), [{ name: `race_${i}`, source: "credstore" }]);
      }
      known?.dispose();
    } finally {
      other.cleanup();
    }
  });

  it("records the trimmed form of a value with a trailing newline", async () => {
    const index = await openFingerprintIndex(scratch.state, creds);
    const value = makeCanary("newline");
    await index.record("echoed_key", Secret.fromString(`${value}\n`), "credstore");
    const known = await index.loadKnownValues();
    assert.deepEqual(known?.lookup(Buffer.from(value)), [{ name: "echoed_key", source: "credstore" }]);
    known?.dispose();
  });

  it("a fresh index in another state directory has no key and finds nothing", async () => {
    const other = makeScratch("keyhold-scan-index-empty-");
    try {
      const index = await openFingerprintIndex(other.state, { env: other.env });
      assert.equal(await index.loadKnownValues(), undefined);
      await index.forget("nothing", "vault"); // no file: nothing to do, no error
    } finally {
      other.cleanup();
    }
  });

  it("refuses a tampered index with INVALID_FORMAT and leaves it alone", async () => {
    const other = makeScratch("keyhold-scan-index-bad-");
    try {
      const index = await openFingerprintIndex(other.state, { env: other.env });
      await index.record("k", Secret.fromString(makeCanary()), "credstore");
      const path = join(other.state, SCAN_INDEX_FILE);
      writeFileSync(path, '{"format":"something-else","version":1,"entries":[]}');
      await assert.rejects(
        index.record("k2", Secret.fromString(makeCanary()), "credstore"),
        (e: unknown) => e instanceof SecretError && e.code === "INVALID_FORMAT",
      );
      assert.equal(readFileSync(path, "utf8"), '{"format":"something-else","version":1,"entries":[]}');
    } finally {
      other.cleanup();
    }
  });

  it("refuses a scan key that is a symbolic link (SYMLINK_REFUSED): it is read like every sealed key", async () => {
    const other = makeScratch("keyhold-scan-index-link-");
    try {
      const index = await openFingerprintIndex(other.state, { env: other.env });
      await index.record("k", Secret.fromString(makeCanary()), "credstore");
      const key = join(other.state, SCAN_KEY_NAME);
      renameSync(key, join(other.root, "elsewhere"));
      symlinkSync(join(other.root, "elsewhere"), key);
      await assert.rejects(
        index.loadKnownValues(),
        (e: unknown) => e instanceof SecretError && e.code === "SYMLINK_REFUSED",
      );
    } finally {
      other.cleanup();
    }
  });
});

describe("the scanner's HMAC-SHA256", () => {
  it("equals node:crypto's HMAC-SHA256 for every length 0-300 and several keys, also on a sub-range", () => {
    for (let k = 0; k < 4; k++) {
      const key = randomBytes(k === 3 ? 64 : 32);
      const mac = new PrecomputedHmacSha256(key);
      for (let length = 0; length <= 300; length++) {
        const data = randomBytes(length + 10);
        const expected = createHmac("sha256", key)
          .update(data.subarray(5, 5 + length))
          .digest("hex");
        const out = new Int32Array(8);
        mac.macInto(data, 5, 5 + length, out);
        assert.equal(wordsToHex(out), expected, `key ${k}, length ${length}`);
      }
      mac.dispose();
    }
  });

  it("a known-value set finds recorded MACs through it and nothing else", () => {
    const key = SecretKey.random();
    const value = Buffer.from("a stored value of some length");
    const known = knownValueSet(SecretKey.fromBytes(key.exposeBytes()), [
      {
        name: "v",
        source: "vault",
        length: value.length,
        mac: key.hmac(value).toString("hex"),
        recorded: "",
      },
    ]);
    assert.deepEqual(known.lookup(value), [{ name: "v", source: "vault" }]);
    assert.deepEqual(known.lookupRange(Buffer.concat([Buffer.from("xx"), value]), 2, 2 + value.length), [
      { name: "v", source: "vault" },
    ]);
    assert.equal(known.lookup(Buffer.from("a stored value of some lengtH")), undefined);
    known.dispose();
  });
});
