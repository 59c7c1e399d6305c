import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isSecretError } from "../../src/secret/index.js";
import { loadPolicy } from "../../src/scan/policy.js";
import { makeScratch, type Scratch } from "../support/scratch.js";

/**
 * Findings of fuzz/targets/scan-policy.fuzz.mjs: a .keyhold-scan.json (it comes with the
 * repository being scanned) whose "allow" was null made the scanner fail with a TypeError instead
 * of the coded INVALID_FORMAT every other malformed policy gets.
 */
describe("scan policy findings of the fuzzer", () => {
  let scratch: Scratch;
  before(() => {
    scratch = makeScratch("keyhold-fuzz-policy-");
  });
  after(() => scratch.cleanup());

  for (const [name, text] of [
    ["allow is null", '{"version":1,"allow":null}'],
    ["allow is an array", '{"version":1,"allow":[]}'],
    ["allow is a string", '{"version":1,"allow":"*"}'],
  ]) {
    it(`${name}: INVALID_FORMAT`, () => {
      const file = join(scratch.root, ".keyhold-scan.json");
      writeFileSync(file, text as string);
      assert.throws(
        () => loadPolicy(file, true),
        (err) => isSecretError(err, "INVALID_FORMAT"),
      );
    });
  }
});
