import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { detect, INCOMPLETE_RULE, MAX_FINDINGS_PER_FILE } from "../../src/scan/detect.js";
import { knownValueSet } from "../../src/scan/fingerprint-index.js";
import { PATTERN_RULES, renderText, Scanner } from "../../src/scan/index.js";
import { searchKnownValues } from "../../src/scan/known-values.js";
import { SecretKey } from "../../src/secret/index.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

/*
 * What one file may cost: findings are capped per file and counted past the cap, detection is
 * linear in the number of matches, a file's time budget and the stored-value candidate cap end
 * its scan with a keyhold-scan-incomplete finding instead of a hang. Times are printed as
 * diagnostics; the bounds are coarse so a slow machine does not fail them.
 */
describe("limits per file", () => {
  const random = new SeededRandom("keyhold-hostile-limits");
  const ids = Array.from({ length: MAX_FINDINGS_PER_FILE + 250 }, () =>
    expandTemplate(KEY_TEMPLATES["aws-access-key-id"]!, random),
  );

  it(`reports at most ${MAX_FINDINGS_PER_FILE} findings a file and says how many more there were`, () => {
    for (const sep of ["\n", " "]) {
      const detections = detect(Buffer.from(ids.join(sep)), "ids.txt", PATTERN_RULES, undefined);
      assert.equal(detections.length, MAX_FINDINGS_PER_FILE + 1);
      const last = detections.at(-1)!;
      assert.equal(last.rule, INCOMPLETE_RULE);
      assert.match(last.note ?? "", /^250 more findings not reported \(at most 1000 per file\)$/);
      if (sep === "\n") assert.equal(last.line, MAX_FINDINGS_PER_FILE + 1);
    }
  });

  it("many findings stop at the cap with one note (an 8 MiB file of ids, one a line)", (t) => {
    const many = Array.from({ length: 380_000 }, (_, i) => ids[i % ids.length]).join("\n");
    const started = performance.now();
    // No time budget: on a loaded machine the default one could end the file first, which is
    // another test's subject (below); this one is about the cap. The time is printed, not judged.
    const detections = detect(Buffer.from(many), "ids.txt", PATTERN_RULES, undefined, {
      budgetMs: Number.POSITIVE_INFINITY,
    });
    const ms = performance.now() - started;
    t.diagnostic(`${(many.length / 1048576).toFixed(1)} MiB, 380000 ids: ${ms.toFixed(0)} ms`);
    assert.equal(detections.length, MAX_FINDINGS_PER_FILE + 1);
    assert.equal(detections.at(-1)?.rule, INCOMPLETE_RULE);
  });

  it("the note is a finding with no match, so the scan is not clean", () => {
    const scanner = new Scanner();
    scanner.scan("ids.txt", Buffer.from(ids.join("\n")));
    const note = scanner.findings.at(-1)!;
    assert.equal(note.rule, INCOMPLETE_RULE);
    assert.equal(note.masked, "");
    assert.equal(note.length, 0);
    const text = renderText(scanner.finish("tree", "/repo", performance.now()));
    assert.match(text, /ids\.txt:1001:1: keyhold-scan-incomplete: 250 more findings not reported/);
  });

  it("a file whose time budget runs out is reported as not fully scanned", () => {
    const detections = detect(Buffer.from(ids.join("\n")), "ids.txt", PATTERN_RULES, undefined, {
      budgetMs: 0,
    });
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.rule, INCOMPLETE_RULE);
    assert.match(detections[0]?.note ?? "", /^not fully scanned: the 0 s budget per file ran out/);
  });

  it("the stored-value search stops at its candidate cap on text dense with separators", (t) => {
    const key = SecretKey.random();
    // 30 stored lengths, the reviewer's worst case.
    const entries = Array.from({ length: 30 }, (_, i) => {
      const bytes = Buffer.from(random.chars("alnum", 8 + i));
      return {
        name: `v${i}`,
        source: "credstore" as const,
        length: bytes.length,
        mac: key.hmac(bytes).toString("hex"),
        recorded: "",
      };
    });
    const known = knownValueSet(key, entries);
    const text = Buffer.from(`${":".repeat(64)} `.repeat(16_384));
    const started = performance.now();
    const result = searchKnownValues(text, known);
    const ms = performance.now() - started;
    t.diagnostic(`1 MiB of ':' runs, 30 stored lengths: ${ms.toFixed(0)} ms, stopped: ${result.stopped}`);
    // Stopping at the cap (not at the time budget) is what bounds the work; the time is printed.
    assert.equal(result.stopped, "candidates");
    const detections = detect(text, "colons.txt", [], known);
    assert.equal(detections.at(-1)?.rule, INCOMPLETE_RULE);
    assert.match(detections.at(-1)?.note ?? "", /stored values reached its cap/);
    known.dispose();
  });
});
