import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { scanHistory } from "../../src/scan/index.js";
import { makeScratch } from "../support/scratch.js";
import { git } from "./support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

describe("history scan of large and many blobs through one cat-file process", () => {
  const scratch = makeScratch("keyhold-scan-large-");
  after(() => scratch.cleanup());

  it("reads blobs spanning many pipe chunks, empty blobs and blobs over --max-size correctly", async () => {
    const repo = join(scratch.root, "repo");
    mkdirSync(repo);
    git(repo, ["init", "-q", "-b", "main"]);
    const random = new SeededRandom("large-blobs");
    const token = expandTemplate(KEY_TEMPLATES["npm-token"]!, random);
    const filler = `${"ordinary line of text, nothing to see here\n".repeat(50_000)}`; // about 2 MiB
    writeFileSync(join(repo, "big.txt"), `${filler}registry_token ${token}\n`);
    writeFileSync(join(repo, "empty.txt"), "");
    writeFileSync(join(repo, "huge.txt"), `${filler}${filler}${filler}${filler}${filler}npm ${token}\n`); // about 10 MiB
    writeFileSync(join(repo, "small.txt"), `token ${token}\n`);
    git(repo, ["add", "."]);
    git(repo, ["commit", "-qm", "blobs of every size"]);
    const result = await scanHistory(repo, {});
    assert.deepEqual(result.findings.map((f) => `${f.path}:${f.line}:${f.column} ${f.rule}`).sort(), [
      "big.txt:50001:16 npm-token",
      "small.txt:1:7 npm-token",
    ]);
    // huge.txt is over the 8 MiB default: git leaves it out of the listing.
    assert.equal(result.stats.scanned, 3);
  });
});
