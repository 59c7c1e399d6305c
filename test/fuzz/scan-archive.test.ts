import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";

/*
 * Replays the scan-archive fuzz target (fuzz/targets/scan-archive.fuzz.mjs) over its seed corpus
 * and over every truncation and a byte flip at each offset of the small seeds: an archive cut
 * short or damaged anywhere is reported as a limit, never thrown, and stays within its budget.
 */
const corpus = new URL("../../../fuzz/corpus/scan-archive/", import.meta.url);
const target = new URL("../../../fuzz/targets/scan-archive.fuzz.mjs", import.meta.url);

describe("scan-archive fuzz target over its seeds", async () => {
  const { fuzz } = (await import(target.href)) as { fuzz: (data: Buffer) => void };
  const seeds = readdirSync(corpus).sort();

  it("has seeds for zip, tar and tar.gz", () => {
    assert.ok(seeds.length >= 6, seeds.join(", "));
  });

  for (const name of seeds) {
    it(`${name}: the seed, each truncation and a flipped byte at each offset`, () => {
      const seed = readFileSync(new URL(name, corpus));
      fuzz(seed);
      const step = seed.length > 1024 ? 7 : 1;
      for (let cut = 1; cut < seed.length; cut += step) fuzz(seed.subarray(0, cut));
      for (let at = 1; at < seed.length; at += step) {
        const flipped = Buffer.from(seed);
        flipped.writeUInt8(flipped.readUInt8(at) ^ 0xff, at);
        fuzz(flipped);
      }
    });
  }
});
