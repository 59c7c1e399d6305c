import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { GIT_ENV, git, initRepository, runKeyhold } from "./support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

// A key pasted into a commit or tag message is in every clone, like one in a file.

const random = new SeededRandom("keyhold-scan-messages");
const githubToken = expandTemplate(KEY_TEMPLATES["github-token"]!, random);
const npmToken = expandTemplate(KEY_TEMPLATES["npm-token"]!, random);
const stripeKey = expandTemplate(KEY_TEMPLATES["stripe-secret-key"]!, random);

function keyhold(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return runKeyhold(["scan", "--no-known-values", "--no-progress", ...args], { cwd, env });
}

interface JsonFinding {
  id: string;
  path: string;
  message?: string;
  commit?: string;
  tag?: string;
  rule: string;
  line: number;
  column: number;
}

describe("commit and tag messages (--history)", () => {
  let scratch: Scratch;
  let repo: string;
  let commit: string;
  let tag: string;
  let treeTag: string;

  before(() => {
    scratch = makeScratch("keyhold-scan-messages-");
    repo = initRepository(join(scratch.root, "repo"));
    git(
      repo,
      ["commit", "-q", "--allow-empty", "-F", "-"],
      `fix the deploy\n\nused token ${githubToken} to test\n`,
    );
    commit = git(repo, ["rev-parse", "HEAD"]).trim();
    git(repo, ["tag", "-a", "v1.0", "-F", "-"], `release\nnpm: ${npmToken}\n`);
    tag = git(repo, ["rev-parse", "v1.0"]).trim();
    // A tag of a tree, then the ref removed: still reachable through a tag of that tag.
    git(repo, ["tag", "-a", "tree-tag", "-F", "-", "HEAD^{tree}"], `stripe ${stripeKey}\n`);
    treeTag = git(repo, ["rev-parse", "tree-tag"]).trim();
    git(repo, ["-c", "advice.nestedTag=false", "tag", "-a", "outer", "-m", "outer tag", "tree-tag"]);
    git(repo, ["tag", "-d", "tree-tag"]);
  });
  after(() => scratch?.cleanup());

  it("finds a key in a commit message and in annotated tag messages, with the object id and line", () => {
    const r = keyhold(["--history"], repo, scratch.env);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.ok(
      !r.stdout.includes(githubToken) && !r.stdout.includes(npmToken) && !r.stdout.includes(stripeKey),
    );
    assert.match(
      r.stdout,
      new RegExp(`^commit ${commit} message:3:12: github-token: GitHub token: ghp_…\\(40\\)$`, "m"),
    );
    assert.match(r.stdout, new RegExp(`^tag ${tag} message:2:6: npm-token: `, "m"));
    assert.match(r.stdout, new RegExp(`^tag ${treeTag} message:1:8: stripe-secret-key: `, "m"));
    assert.match(
      r.stdout,
      /2\. replace the value in every commit and tag message: git filter-repo --replace-message/,
    );
    assert.match(r.stdout, /3 findings in 1 blobs and \d+ messages/);

    const json = JSON.parse(keyhold(["--history", "--json"], repo, scratch.env).stdout);
    const found = (json.findings as JsonFinding[]).map(
      ({ path, message, commit, tag, rule, line, column }) => ({
        path,
        message,
        commit,
        tag,
        rule,
        line,
        column,
      }),
    );
    assert.deepEqual(
      found.sort((a, b) => a.rule.localeCompare(b.rule)),
      [
        { path: "", message: "commit", commit, tag: undefined, rule: "github-token", line: 3, column: 12 },
        { path: "", message: "tag", commit: undefined, tag, rule: "npm-token", line: 2, column: 6 },
        {
          path: "",
          message: "tag",
          commit: undefined,
          tag: treeTag,
          rule: "stripe-secret-key",
          line: 1,
          column: 8,
        },
      ],
    );

    const sarif = JSON.parse(keyhold(["--history", "--sarif"], repo, scratch.env).stdout);
    const result = sarif.runs[0].results.find((x: { ruleId: string }) => x.ruleId === "github-token");
    assert.deepEqual(result.locations[0].logicalLocations, [
      { fullyQualifiedName: `commit/${commit}/message`, kind: "object" },
    ]);
    assert.equal(result.locations[0].physicalLocation.artifactLocation.uri, `.git/commit/${commit}/message`);
  });

  it("finds a key in the message of a commit no ref points at (an older commit of a branch)", () => {
    // rev-list --objects --filter=object:type=blob lists only the commits the refs name, so
    // this message was never read before every commit came from git log.
    const dir = initRepository(join(scratch.root, "older"));
    git(dir, ["commit", "-q", "--allow-empty", "-F", "-"], `wip\n\ntoken ${githubToken}\n`);
    const older = git(dir, ["rev-parse", "HEAD"]).trim();
    git(dir, ["commit", "-q", "--allow-empty", "-m", "later"]);
    const json = JSON.parse(keyhold(["--history", "--json"], dir, scratch.env).stdout);
    assert.deepEqual(
      (json.findings as JsonFinding[]).map((f) => [f.message, f.commit, f.rule]),
      [["commit", older, "github-token"]],
    );
    assert.equal(json.stats.messages, 3);
  });

  it("a message over --max-size is skipped as too-large, and said so", () => {
    const r = keyhold(["--history", "--max-size", "40", "--json"], repo, scratch.env);
    const out = JSON.parse(r.stdout);
    assert.ok(!out.findings.some((f: JsonFinding) => f.message === "commit"), r.stdout);
    assert.ok(out.stats.skipped["too-large"] >= 1);
  });

  it("--replacements covers message findings (for git filter-repo --replace-message)", () => {
    const r = runKeyhold(["scan", "--history", "--no-known-values", "--replacements"], {
      cwd: repo,
      env: scratch.env,
    });
    assert.equal(r.code, 3, r.stderr);
    for (const key of [githubToken, npmToken, stripeKey])
      assert.ok(r.stdout.includes(`literal:${key}==>***REMOVED***`));
  });

  it("a baseline accepts a message finding by its id; a keyhold:allow line is not reported", () => {
    const policy = join(repo, ".keyhold-scan.json");
    const update = keyhold(["--history", "--update-baseline"], repo, scratch.env);
    assert.equal(update.code, 0, update.stderr);
    const accepted = JSON.parse(readFileSync(policy, "utf8")).accepted as JsonFinding[];
    assert.equal(accepted.length, 3);
    const again = keyhold(["--history"], repo, scratch.env);
    assert.equal(again.code, 0, again.stdout);
    assert.match(again.stdout, /3 accepted by the baseline/);
    writeFileSync(policy, JSON.stringify({ version: 1 }));
    git(repo, ["commit", "-q", "--allow-empty", "-F", "-"], `docs: example ${githubToken} keyhold:allow\n`);
    const allowed = JSON.parse(keyhold(["--history", "--json"], repo, scratch.env).stdout);
    assert.equal(allowed.findings.length, 3, "the line marked keyhold:allow adds no finding");
  });
});

describe("the commit-msg hook (scan --commit-message)", () => {
  let scratch: Scratch;
  let repo: string;

  before(() => {
    scratch = makeScratch("keyhold-scan-commit-msg-");
    repo = initRepository(join(scratch.root, "repo"));
  });
  after(() => scratch?.cleanup());

  const commit = (args: string[]) =>
    spawnSync("git", ["commit", "-q", ...args], {
      cwd: repo,
      env: { ...GIT_ENV, ...scratch.env },
      encoding: "utf8",
    });

  it("blocks a clean commit whose message holds a key, and lets a clean message through", () => {
    const install = runKeyhold(["hook", "install"], { cwd: repo, env: scratch.env });
    assert.equal(install.code, 0, install.stderr);
    assert.ok(existsSync(join(repo, ".git", "hooks", "commit-msg")));
    writeFileSync(join(repo, "notes.txt"), "nothing secret\n");
    git(repo, ["add", "notes.txt"]);
    const blocked = commit(["-m", `try ${githubToken}`]);
    assert.notEqual(blocked.status, 0);
    assert.match(blocked.stderr, /^commit message:1:5: github-token: GitHub token: ghp_…\(40\)$/m);
    assert.ok(!blocked.stderr.includes(githubToken));
    assert.equal(git(repo, ["rev-list", "--count", "HEAD"]).trim(), "1");
    assert.equal(commit(["-m", "add notes"]).status, 0);
  });

  it("reads the message only up to git's cut line (the diff of git commit -v is not the message)", () => {
    const file = join(scratch.root, "COMMIT_EDITMSG");
    const cut = "# ------------------------ >8 ------------------------";
    writeFileSync(
      file,
      `clean subject\n\n${cut}\n# Do not modify or remove the line above.\n+token ${githubToken}\n`,
    );
    const below = keyhold(["--commit-message", file], repo, scratch.env);
    assert.equal(below.code, 0, below.stdout);
    assert.match(below.stdout, /no findings in 1 message/);
    writeFileSync(file, `subject ${githubToken}\n\n${cut}\n`);
    assert.equal(keyhold(["--commit-message", file], repo, scratch.env).code, 3);
  });

  it("refuses to replace someone else's commit-msg hook and then writes neither hook", () => {
    const other = join(scratch.root, "other");
    mkdirSync(other);
    git(other, ["init", "-q", "-b", "main"]);
    const hook = join(other, ".git", "hooks", "commit-msg");
    writeFileSync(hook, "#!/bin/sh\necho mine\n", { mode: 0o755 });
    const refused = runKeyhold(["hook", "install"], { cwd: other, env: scratch.env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\[HOOK_EXISTS\]/);
    assert.ok(!existsSync(join(other, ".git", "hooks", "pre-commit")), "nothing is written on a refusal");
    const forced = runKeyhold(["hook", "install", "--force"], { cwd: other, env: scratch.env });
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(readFileSync(`${hook}.keyhold-backup`, "utf8"), "#!/bin/sh\necho mine\n");
  });
});
