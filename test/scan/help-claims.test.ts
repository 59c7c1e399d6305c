import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { makeScratch } from "../support/scratch.js";
import { runKeyhold } from "./support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

/** What `keyhold scan --help` says about minified files is what the scan does: it scans them. */
describe("keyhold scan --help tells the truth about minified files", () => {
  const scratch = makeScratch("keyhold-scan-help-");
  after(() => scratch.cleanup());

  it("a key in a minified bundle is found, and --help says such bundles are scanned", () => {
    const dir = join(scratch.root, "site");
    mkdirSync(dir);
    const token = expandTemplate(KEY_TEMPLATES["github-token"]!, new SeededRandom("keyhold-scan-help"));
    writeFileSync(join(dir, "app.min.js"), `!function(){var a=1,b="${token}";window.x=a+b}();\n`);
    const r = runKeyhold(["scan", "--no-known-values", "--no-progress", dir], { cwd: scratch.root, env: {} });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /app\.min\.js:1:\d+: github-token/);
    const help = runKeyhold(["scan", "--help"], { cwd: scratch.root, env: {} });
    assert.doesNotMatch(help.stdout, /minified[^.]*skipped/);
    assert.match(help.stdout, /minified bundles are scanned/);
  });
});
