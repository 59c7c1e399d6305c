import assert from "node:assert/strict";
import { inspect } from "node:util";
import { describe, it } from "node:test";
import { Secret, SecretError, SecretKey } from "../src/index.js";
import { makeCanary } from "./support/scratch.js";

describe("Secret", () => {
  it("never prints its value", () => {
    const canary = makeCanary();
    const s = Secret.fromString(canary);
    const shown = [
      String(s),
      `${s}`,
      s.toString(),
      JSON.stringify({ s }),
      inspect(s),
      inspect({ nested: [s] }),
    ];
    for (const text of shown) assert.ok(!text.includes(canary), text);
    assert.equal(String(s), "[REDACTED]");
    assert.equal(JSON.stringify({ s }), '{"s":"[REDACTED]"}');
    assert.equal(s.expose(), canary);
  });

  it("verifies in constant time, also for different lengths", () => {
    const s = Secret.fromString("correct horse");
    assert.equal(s.verify("correct horse"), true);
    assert.equal(s.verify("correct hors"), false);
    assert.equal(s.verify("correct horse battery"), false);
    assert.equal(s.verify(""), false);
    assert.equal(s.verify(Buffer.from("correct horse")), true);
  });

  it("wipes its buffer on dispose and refuses to expose afterwards", () => {
    const s = Secret.fromString("wipe me");
    const view = s.exposeBytes();
    s.dispose();
    assert.ok(view.every((b) => b === 0));
    assert.throws(
      () => s.expose(),
      (e: unknown) => e instanceof SecretError && e.code === "DISPOSED",
    );
  });

  it("wipes the source when asked", () => {
    const src = Buffer.from("source bytes");
    const s = Secret.fromBytes(src, { wipeSource: true });
    assert.ok(src.every((b) => b === 0));
    assert.equal(s.expose(), "source bytes");
  });
});

describe("SecretKey", () => {
  it("is exactly 32 bytes", () => {
    assert.throws(() => SecretKey.fromBytes(Buffer.alloc(31)), { code: "INVALID_FORMAT" });
    assert.throws(() => SecretKey.fromHex("ab".repeat(31)), { code: "INVALID_FORMAT" });
    assert.throws(() => SecretKey.fromHex("zz".repeat(32)), { code: "INVALID_FORMAT" });
    assert.equal(SecretKey.fromHex(`${"ab".repeat(32)}\n`).exposeBytes().length, 32);
  });

  it("derives deterministic, label-separated keys with HKDF-SHA256", () => {
    const k1 = SecretKey.deriveFromToken("token", "keyhold-test-v1");
    const k2 = SecretKey.deriveFromToken("token", "keyhold-test-v1");
    const k3 = SecretKey.deriveFromToken("token", "keyhold-other-v1");
    assert.ok(k1.equals(k2));
    assert.ok(!k1.equals(k3));
    assert.equal(inspect(k1), "[REDACTED]");
  });

  it("refuses an empty token or label", () => {
    assert.throws(() => SecretKey.deriveFromToken("", "label"), { code: "KEY_DERIVATION" });
    assert.throws(() => SecretKey.deriveFromToken("token", ""), { code: "KEY_DERIVATION" });
  });
});
