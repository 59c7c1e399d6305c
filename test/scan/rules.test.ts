import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { PATTERN_RULES, Scanner } from "../../src/scan/index.js";
import { expandTemplate, SeededRandom } from "./support/synthetic.js";

/*
 * Snapshot tests, one folder per rule: test/scan/rules/<id>/ng/* must produce findings of that
 * rule only, exactly as recorded in <id>/ng.snap; <id>/ok/* (near misses, stand-ins from
 * documentation) must produce none at all. Fixture files are templates ({{kind:n}}), expanded
 * with a seed per file, so no key is ever committed. KEYHOLD_UPDATE_SNAPSHOTS=1 rewrites the
 * .snap files.
 */

// Compiled to dist/test/scan/: the fixtures stay in the source tree.
const RULES_DIR = fileURLToPath(new URL("../../../test/scan/rules/", import.meta.url));
const UPDATE = process.env.KEYHOLD_UPDATE_SNAPSHOTS === "1";

function scanFixture(rule: string, kind: "ok" | "ng", file: string) {
  const template = readFileSync(join(RULES_DIR, rule, kind, file), "utf8");
  const text = expandTemplate(template, new SeededRandom(`${rule}/${kind}/${file}`));
  const scanner = new Scanner();
  scanner.scan(`${kind}/${file}`, Buffer.from(text, "utf8"));
  return { text, findings: scanner.findings, stats: scanner.stats };
}

describe("pattern rules: ok/ng snapshots", () => {
  it("every rule has a snapshot folder with ok and ng cases, and 30+ providers are covered", () => {
    for (const rule of PATTERN_RULES) {
      for (const kind of ["ok", "ng"]) {
        const dir = join(RULES_DIR, rule.id, kind);
        assert.ok(existsSync(dir) && readdirSync(dir).length > 0, `${rule.id}/${kind} is missing`);
      }
    }
    const providers = new Set(PATTERN_RULES.map((r) => r.provider).filter((p) => !p.startsWith("the ")));
    assert.ok(providers.size >= 30, `only ${providers.size} providers`);
    assert.equal(new Set(PATTERN_RULES.map((r) => r.id)).size, PATTERN_RULES.length, "rule ids are unique");
  });

  for (const rule of PATTERN_RULES) {
    describe(rule.id, () => {
      it("finds every ng case, with its own rule only, as in ng.snap", () => {
        const lines: string[] = [];
        for (const file of readdirSync(join(RULES_DIR, rule.id, "ng")).sort()) {
          const { findings, text } = scanFixture(rule.id, "ng", file);
          assert.ok(findings.length > 0, `${rule.id}/ng/${file}: nothing found`);
          for (const f of findings) {
            assert.equal(f.rule, rule.id, `${rule.id}/ng/${file}: found ${f.rule} at ${f.line}:${f.column}`);
            assert.ok(
              !JSON.stringify(f).includes(
                text.split("\n")[f.line - 1]!.slice(f.column - 1, f.column - 1 + f.length),
              ),
            );
            lines.push(`${f.path}:${f.line}:${f.column} ${f.rule} ${f.masked}`);
          }
        }
        const snap = join(RULES_DIR, rule.id, "ng.snap");
        const actual = `${lines.join("\n")}\n`;
        if (UPDATE || !existsSync(snap)) writeFileSync(snap, actual);
        assert.equal(actual, readFileSync(snap, "utf8"));
      });

      it("finds nothing in the ok cases", () => {
        for (const file of readdirSync(join(RULES_DIR, rule.id, "ok")).sort()) {
          const { findings, stats } = scanFixture(rule.id, "ok", file);
          assert.equal(stats.scanned, 1);
          assert.deepEqual(
            findings.map((f) => `${f.rule} ${f.line}:${f.column}`),
            [],
            `${rule.id}/ok/${file}`,
          );
        }
      });
    });
  }
});
