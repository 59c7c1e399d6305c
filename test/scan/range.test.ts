import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseRange, parseSince, scanRange } from "../../src/scan/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { buildRepository, git, runKeyhold } from "./support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

// A merge-request pipeline or a pre-push hook scans only what a range of commits added; the
// range is handed to git, so it is checked as revision syntax first.

const random = new SeededRandom("keyhold-scan-range");
const oldKey = expandTemplate(KEY_TEMPLATES["github-token"]!, random);
const newKey = expandTemplate(KEY_TEMPLATES["npm-token"]!, random);
const messageKey = expandTemplate(KEY_TEMPLATES["stripe-secret-key"]!, random);

function keyhold(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return runKeyhold(["scan", "--no-known-values", "--no-progress", ...args], { cwd, env });
}

describe("keyhold scan --range and --since", () => {
  let scratch: Scratch;
  let repo: string;
  let commits: string[];

  before(() => {
    scratch = makeScratch("keyhold-scan-range-");
    repo = join(scratch.root, "repo");
    mkdirSync(repo);
    // Commit times are 1,700,000,000 + index (2023-11-14T22:13:20Z onwards).
    commits = buildRepository(repo, [
      { message: "start", files: { "README.md": "# app\n" } },
      { message: "old leak", files: { "old.env": `TOKEN=${oldKey}\n` } },
      { message: "feature", files: { "src/app.js": "console.log(1)\n" } },
      { message: `debug with ${messageKey}`, files: { "src/app.js": "console.log(2)\n" } },
      {
        message: "new leak",
        files: { "deploy.env": `NPM=${newKey}\n`, "old-copy.env": `TOKEN=${oldKey}\n` },
      },
    ]);
  });
  after(() => scratch?.cleanup());

  it("reports what the range added (blobs and messages) and nothing from before it", () => {
    const r = keyhold(["--range", `${commits[2]}..HEAD`, "--json"], repo, scratch.env);
    assert.equal(r.code, 3, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.mode, "range");
    const found = json.findings
      .map((f: { path: string; rule: string; message?: string }) => f.message ?? f.path)
      .sort();
    // old-copy.env is new as a path but its blob is old.env's, which the base already has.
    assert.deepEqual(found, ["commit", "deploy.env"]);
    assert.equal(json.leaks.length, 2);
    const clean = keyhold(["--range", "HEAD~4..HEAD~3"], repo, scratch.env);
    assert.equal(clean.code, 3, "the commit that added old.env is in that range");
    const none = keyhold(["--range", `${commits[1]}..${commits[2]}`], repo, scratch.env);
    assert.equal(none.code, 0, none.stdout);
    assert.match(none.stdout, /keyhold scan \(range\): no findings in 1 blobs and 1 messages/);
  });

  it("--range takes ref names and ~/^ suffixes; the library takes the same", async () => {
    git(repo, ["branch", "-f", "base", commits[3]!]);
    const r = keyhold(["--range", "base..main", "--json"], repo, scratch.env);
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(
      JSON.parse(r.stdout).findings.map((f: { path: string }) => f.path),
      ["deploy.env"],
    );
    const result = await scanRange(repo, parseRange("main~1..main"), {});
    assert.deepEqual(
      result.findings.map((f) => f.path),
      ["deploy.env"],
    );
  });

  it("refuses a range that is not BASE..HEAD revision syntax before git sees it", () => {
    const marker = join(scratch.root, "written-by-git");
    for (const bad of [
      `--output=${marker}..HEAD`,
      `HEAD..--output=${marker}`,
      "-n1..HEAD",
      "HEAD",
      "HEAD...main",
      "a..b..c",
      "..HEAD",
      "HEAD..",
      "HEAD:README.md..HEAD",
      "HEAD@{1.day.ago}..HEAD",
      "$(id)..HEAD",
      "HEAD^{tree}..HEAD",
      ":/fix..HEAD",
      "main\n..HEAD",
      "main..HEAD --all",
    ]) {
      const r = keyhold([`--range=${bad}`], repo, scratch.env);
      assert.equal(r.code, 2, `${JSON.stringify(bad)}: ${r.stdout}`);
      assert.match(r.stderr, /--range must be BASE\.\.HEAD .*\[USAGE\]/, bad);
      assert.throws(() => parseRange(bad), /--range must be BASE\.\.HEAD/);
    }
    assert.ok(!existsSync(marker));
    const missing = keyhold(["--range", "nosuchbranch..HEAD"], repo, scratch.env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no such commit: "nosuchbranch" \[USAGE\]/);
  });

  it("a branch named like an option is still only a revision (--end-of-options)", () => {
    // git refuses to create a ref starting with '-', but a name git reads as an option once
    // resolved is never passed as one: the range reaches git as object ids on stdin.
    git(repo, ["branch", "-f", "x--output", commits[3]!]);
    const r = keyhold(["--range", "x--output..main", "--json"], repo, scratch.env);
    assert.equal(r.code, 3, r.stderr);
    assert.ok(!readdirSync(repo).some((n) => n.startsWith("--")));
  });

  it("--since scans only what commits of every ref since that date added", () => {
    // commits[3] is 1,700,000,003 = 2023-11-14T22:13:23Z.
    const r = keyhold(["--since", "2023-11-14T22:13:23Z", "--json"], repo, scratch.env);
    assert.equal(r.code, 3, r.stderr);
    const found = JSON.parse(r.stdout).findings.map(
      (f: { path: string; message?: string }) => f.message ?? f.path,
    );
    assert.deepEqual(found.sort(), ["commit", "deploy.env"]);
    for (const bad of ["yesterday", "2.weeks.ago", "--all", "2023-13-45", "2023-11-14; id"]) {
      const b = keyhold([`--since=${bad}`], repo, scratch.env);
      assert.equal(b.code, 2, bad);
      assert.match(b.stderr, /--since must be an ISO 8601 date/);
      assert.throws(() => parseSince(bad));
    }
  });

  it("--range and --since cannot be combined with another mode", () => {
    const r = keyhold(["--range", "HEAD~1..HEAD", "--history"], repo, scratch.env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot be combined \[USAGE\]/);
  });

  it("git's environment for a hook is kept: a range in a repository named by GIT_DIR", () => {
    const r = runKeyhold(["scan", "--no-known-values", "--range", "HEAD~1..HEAD", "--json", "."], {
      cwd: scratch.root,
      env: { ...scratch.env, GIT_DIR: join(repo, ".git"), GIT_WORK_TREE: repo },
    });
    assert.equal(r.code, 3, r.stderr);
  });
});
