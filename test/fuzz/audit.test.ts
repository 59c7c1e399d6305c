import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sealHead, sealRecord, sha256Hex } from "../../src/audit/format.js";
import { verifyLog } from "../../src/audit/verify.js";
import { SecretKey } from "../../src/secret/index.js";

/**
 * Finding of fuzz/targets/audit-log.fuzz.mjs: a head file whose "mac" had 64 characters but more
 * than 64 bytes in UTF-8 (one non-ASCII character) made `verifyLog` throw a RangeError from
 * timingSafeEqual instead of reporting the head: whoever can write the head file could make
 * `keyhold audit verify` crash instead of report the tampering.
 */
describe("audit head findings of the fuzzer", () => {
  const key = SecretKey.fromBytes(Buffer.alloc(32, 7));
  const { line } = sealRecord(
    {
      v: 1,
      seq: 1,
      time: "2026-01-01T00:00:00.000Z",
      uid: 0,
      pid: 1,
      op: "set",
      result: "ok",
      prev: "0".repeat(64),
    },
    key,
  );
  const log = Buffer.from(`${line}\n`);
  const head = sealHead({ seq: 1, size: log.length, hash: sha256Hex(Buffer.from(line)) }, key);

  it("the untouched head verifies", () => {
    assert.equal(verifyLog(log, head, key).ok, true);
  });

  for (const [name, mac] of [
    ["a non-ASCII character in the MAC", `${"a".repeat(63)}\u00e4`],
    ["an invalid UTF-8 byte read as U+FFFD", `${"0".repeat(40)}\ufffd${"0".repeat(23)}`],
    ["a MAC that is not hex", "z".repeat(64)],
  ]) {
    it(`${name}: reported as a bad head, not thrown`, () => {
      const edited = head.replace(/"mac":"[0-9a-f]{64}"/, `"mac":${JSON.stringify(mac)}`);
      assert.notEqual(edited, head);
      const report = verifyLog(log, edited, key);
      assert.equal(report.ok, false);
      assert.deepEqual(
        report.problems.map((p) => p.kind),
        ["bad-head"],
      );
    });
  }
});
