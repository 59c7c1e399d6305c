import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { scanHistory } from "../../src/scan/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { buildRepository, type GeneratedCommit, git, runKeyhold } from "./support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

// One documented example value in every version of a README was hundreds of findings, one per
// blob: a reader could not tell where the leak began or whether HEAD still had it.

const random = new SeededRandom("keyhold-scan-history-groups");
const token = expandTemplate(KEY_TEMPLATES["github-token"]!, random);
const other = expandTemplate(KEY_TEMPLATES["npm-token"]!, random);

function keyhold(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return runKeyhold(["scan", "--no-known-values", "--no-progress", ...args], { cwd, env });
}

/** Every unkeyed SHA-256 prefix of a value someone could look up (hex, 8 to 64 digits). */
function plainHashes(value: string): string[] {
  const hex = createHash("sha256").update(value).digest("hex");
  return [hex.slice(0, 8), hex.slice(0, 12), hex.slice(0, 16), hex];
}

describe("history findings grouped into leaks", () => {
  let scratch: Scratch;
  let readme: string;
  let readmeCommits: string[];
  const VERSIONS = 40;

  before(() => {
    scratch = makeScratch("keyhold-scan-groups-");
    readme = join(scratch.root, "readme");
    mkdirSync(readme);
    const commits: GeneratedCommit[] = [];
    for (let i = 0; i < VERSIONS; i++) {
      commits.push({
        message: `docs: revision ${i}`,
        files: { "README.md": `# project\n\nrevision ${i}\n\nexample: token = "${token}"\n` },
      });
    }
    readmeCommits = buildRepository(readme, commits);
  });
  after(() => scratch?.cleanup());

  it("one value in every version of a README is one leak with one place: introduced, still in HEAD, every version counted", async () => {
    const result = await scanHistory(readme, {});
    assert.equal(result.findings.length, VERSIONS, "--json keeps one finding per blob");
    assert.equal(result.leaks?.length, 1);
    const [leak] = result.leaks!;
    assert.equal(leak!.places.length, 1);
    const [place] = leak!.places;
    assert.equal(place!.path, "README.md");
    assert.equal(place!.introduced?.commit, readmeCommits[0]);
    assert.equal(place!.introduced?.author, "Test <test@example.invalid>");
    assert.match(place!.introduced!.date, /^2023-11-14T22:13:20/);
    assert.equal(place!.inHead, true);
    assert.equal(place!.lastPresent, readmeCommits.at(-1));
    assert.equal(place!.removed, undefined);
    assert.equal(place!.versions, VERSIONS);
    assert.deepEqual(
      [...leak!.occurrences].sort((a, b) => a - b),
      [...Array(VERSIONS).keys()],
    );
    // The first occurrence is the version that introduced it, and the leak is named by its id.
    assert.equal(result.findings[place!.occurrences[0]!]!.commit, readmeCommits[0]);
    assert.equal(leak!.id, result.findings[0]!.id);
  });

  it("text shows one block per leak; --json keeps every finding and names them under the leak; --sarif correlates them", () => {
    const text = keyhold(["--history"], readme, scratch.env);
    assert.equal(text.code, 3, text.stderr);
    assert.equal(text.stdout.match(/^ {2}leak [0-9a-f]{16}: 1 place, 40 versions$/gm)?.length, 1);
    assert.equal(
      text.stdout.match(/^README\.md:5:19: github-token: GitHub token: ghp_…\(40\)$/gm)?.length,
      1,
    );
    assert.equal(text.stdout.match(/^ {2}1\. rotate/gm)?.length, 1);
    assert.match(
      text.stdout,
      new RegExp(
        `README\\.md:5:19; added in commit ${readmeCommits[0]!.slice(0, 12)} \\(Test <test@example\\.invalid>, 2023-11-14T22:13:20Z?[^)]*\\); still in HEAD; ${VERSIONS} versions`,
      ),
    );
    assert.match(text.stdout, new RegExp(`${VERSIONS} findings in ${VERSIONS} blobs .*; 1 leak in 1 place`));

    const json = JSON.parse(keyhold(["--history", "--json"], readme, scratch.env).stdout);
    assert.equal(json.findings.length, VERSIONS);
    assert.equal(json.leaks.length, 1);
    assert.equal(json.leaks[0].places[0].versions, VERSIONS);
    assert.equal(json.leaks[0].occurrences.length, VERSIONS);
    for (const i of json.leaks[0].occurrences) assert.equal(json.findings[i].path, "README.md");

    const sarif = JSON.parse(keyhold(["--history", "--sarif"], readme, scratch.env).stdout);
    const results = sarif.runs[0].results;
    assert.equal(results.length, VERSIONS);
    const guids = new Set(results.map((r: { correlationGuid: string }) => r.correlationGuid));
    assert.equal(guids.size, 1);
    assert.match(
      [...guids][0] as string,
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    for (const r of results) assert.equal(r.partialFingerprints["keyhold-leak/v1"], json.leaks[0].id);

    for (const out of [text.stdout, JSON.stringify(json), JSON.stringify(sarif)]) {
      assert.ok(!out.includes(token), "a report holds the value");
      for (const h of plainHashes(token))
        assert.ok(!out.includes(h), "a report holds an unkeyed hash of the value");
    }
  });

  it("a value that moved between files is one leak with a place per path: where it came in, which commit removed it, the last that had it", async () => {
    const dir = join(scratch.root, "moved");
    mkdirSync(dir);
    const commits = buildRepository(dir, [
      { message: "start", files: { "README.md": "# app\n" } },
      { message: "config", files: { "config/app.env": `TOKEN=${token}\n` } },
      { message: "move it", files: { "config/app.env": null, "deploy/prod.env": `TOKEN=${token}\n` } },
      { message: "edit", files: { "deploy/prod.env": `# prod\nTOKEN=${token}\n` } },
      { message: "remove it", files: { "deploy/prod.env": null } },
      { message: "another", files: { "ci.yml": `npm: ${other}\n` } },
    ]);
    const result = await scanHistory(dir, {});
    assert.equal(result.leaks?.length, 2);
    const [moved, second] = result.leaks!;
    assert.equal(second!.rule, "npm-token");
    assert.deepEqual(
      moved!.places.map((p) => [
        p.path,
        p.introduced?.commit,
        p.removed?.commit,
        p.lastPresent,
        p.inHead,
        p.versions,
      ]),
      [
        // The same blob under a new name is found once by content and placed at both paths.
        ["config/app.env", commits[1], commits[2], commits[1], false, 1],
        ["deploy/prod.env", commits[2], commits[4], commits[3], false, 2],
      ],
    );
    const inHead = second!.places[0]!;
    assert.equal(inHead.inHead, true);
    assert.equal(inHead.lastPresent, commits[5]);
    // Every finding belongs to exactly one leak.
    const all = result.leaks!.flatMap((l) => l.occurrences).sort((a, b) => a - b);
    assert.deepEqual(all, [...result.findings.keys()]);
  });

  it("findings after grouping are at most the distinct (value, path) pairs", async () => {
    const dir = join(scratch.root, "pairs");
    mkdirSync(dir);
    const commits: GeneratedCommit[] = [];
    for (let i = 0; i < 25; i++) {
      commits.push({
        message: `rev ${i}`,
        files: {
          "README.md": `rev ${i}\ntoken = "${token}"\n`,
          "docs/setup.md": `step ${i}\nnpm token ${other}\nagain token = "${token}"\n`,
        },
      });
    }
    buildRepository(dir, commits);
    const result = await scanHistory(dir, {});
    assert.ok(result.findings.length >= 75);
    const places = result.leaks!.reduce((n, l) => n + l.places.length, 0);
    // (token, README.md), (token, docs/setup.md), (npm token, docs/setup.md)
    assert.equal(places, 3);
    assert.equal(result.leaks!.length, 2);
  });

  it("a value in commit messages is one place, the first commit named", async () => {
    const dir = join(scratch.root, "messages");
    mkdirSync(dir);
    const commits = buildRepository(dir, [
      { message: "start", files: { "a.txt": "a\n" } },
      { message: `oops ${token}`, files: { "a.txt": "b\n" } },
      { message: `again ${token}`, files: { "a.txt": "c\n" } },
    ]);
    const result = await scanHistory(dir, {});
    assert.equal(result.leaks?.length, 1);
    const place = result.leaks![0]!.places[0]!;
    assert.equal(place.message, "commit");
    assert.equal(place.introduced?.commit, commits[1]);
    assert.equal(place.versions, 2);
    assert.equal(git(dir, ["rev-parse", "HEAD"]).trim(), commits[2]);
  });
});
