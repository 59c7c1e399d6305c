import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { openFingerprintIndex, POLICY_FILE } from "../../src/scan/index.js";
import { Secret } from "../../src/secret/index.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";
import { GIT_ENV, git, runKeyhold } from "./support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

// Transcript-style tests of the real CLI (bin/keyhold.js in a child process).
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const keyhold = runKeyhold;

const random = new SeededRandom("keyhold-scan-cli");
const githubToken = expandTemplate(KEY_TEMPLATES["github-token"]!, random);

describe("keyhold scan (CLI)", () => {
  let scratch: Scratch;
  let repo: string;
  let env: NodeJS.ProcessEnv;
  let canary: string;

  before(async () => {
    scratch = makeScratch("keyhold-scan-cli-");
    env = scratch.env;
    repo = join(scratch.root, "repo");
    mkdirSync(repo);
    git(repo, ["init", "-q", "-b", "main"]);
    writeFileSync(join(repo, "README.md"), "# a project\n");
    git(repo, ["add", "."]);
    git(repo, ["commit", "-qm", "start"]);
    canary = makeCanary("scan-cli");
    const index = await openFingerprintIndex(scratch.state, { env });
    await index.record("payments_api_key", Secret.fromString(canary), "credstore");
  });
  after(() => scratch?.cleanup());

  it("a clean tree exits 0 and says so", () => {
    const r = keyhold(["scan"], { cwd: repo, env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /keyhold scan \(tree\): no findings in 1 files/);
    assert.equal(r.stderr, "");
  });

  it("finds a stored value and a pattern key, masks both, exits 3, and names keyhold rotate first", () => {
    writeFileSync(join(repo, "app.conf"), `PAYMENTS_KEY=${canary}\ngithub = "${githubToken}"\n`);
    const r = keyhold(["scan"], { cwd: repo, env });
    assert.equal(r.code, 3, r.stderr);
    assert.ok(!r.stdout.includes(canary) && !r.stderr.includes(canary), "the stored value is never printed");
    assert.ok(!r.stdout.includes(githubToken), "the pattern key is never printed whole");
    assert.match(
      r.stdout,
      /^app\.conf:1:14: keyhold-known-value: value stored in keyhold \(credstore payments_api_key\): …\(\d+\)$/m,
    );
    assert.match(r.stdout, /^app\.conf:2:11: github-token: GitHub token: ghp_…\(40\)$/m);
    // The order of docs/scan.md section 6: rotate, then rewrite history, then treat as compromised.
    const block = r.stdout.split("\n").slice(1, 4).join("\n");
    assert.match(block, /1\. rotate it now: .*keyhold rotate payments_api_key/);
    assert.match(block, /2\. replace the value in all of history: git filter-repo --replace-text/);
    assert.match(block, /3\. treat it as compromised/);
  });

  it("--json holds findings with masked matches and never the value", () => {
    const r = keyhold(["scan", "--json"], { cwd: repo, env });
    assert.equal(r.code, 3);
    assert.ok(!r.stdout.includes(canary));
    assert.ok(!r.stdout.includes(githubToken));
    const out = JSON.parse(r.stdout);
    assert.equal(out.mode, "tree");
    assert.deepEqual(out.knownValues, { enabled: true, values: 1 });
    assert.deepEqual(
      out.findings.map((f: { rule: string; path: string; line: number }) => `${f.path}:${f.line} ${f.rule}`),
      ["app.conf:1 keyhold-known-value", "app.conf:2 github-token"],
    );
    assert.deepEqual(out.findings[0].credentials, [{ name: "payments_api_key", source: "credstore" }]);
  });

  it("--sarif gives SARIF 2.1.0 with rules, locations and fingerprints", () => {
    const r = keyhold(["scan", "--sarif"], { cwd: repo, env });
    assert.equal(r.code, 3);
    assert.ok(!r.stdout.includes(canary));
    const sarif = JSON.parse(r.stdout);
    assert.equal(sarif.version, "2.1.0");
    const run = sarif.runs[0];
    assert.equal(run.tool.driver.name, "keyhold");
    assert.ok(run.tool.driver.rules.length >= 40);
    assert.equal(run.results.length, 2);
    const result = run.results[1];
    assert.equal(result.ruleId, "github-token");
    assert.equal(run.tool.driver.rules[result.ruleIndex].id, "github-token");
    assert.deepEqual(result.locations[0].physicalLocation.region, { startLine: 2, startColumn: 11 });
    assert.equal(result.locations[0].physicalLocation.artifactLocation.uri, "app.conf");
    assert.match(result.partialFingerprints["keyhold/v1"], /^[0-9a-f]{16}$/);
  });

  it("an inline keyhold:allow comment silences its line", () => {
    writeFileSync(join(repo, "app.conf"), `github = "${githubToken}" # keyhold:allow (test fixture)\n`);
    const r = keyhold(["scan"], { cwd: repo, env });
    assert.equal(r.code, 0, r.stdout);
  });

  it("--update-baseline accepts current findings; the baseline holds no value; new findings still fail", () => {
    writeFileSync(join(repo, "app.conf"), `PAYMENTS_KEY=${canary}\n`);
    const accepted = keyhold(["scan", "--update-baseline"], { cwd: repo, env });
    assert.equal(accepted.code, 0, accepted.stderr);
    const policy = readFileSync(join(repo, POLICY_FILE), "utf8");
    assert.ok(!policy.includes(canary));
    assert.equal(JSON.parse(policy).accepted.length, 1);
    assert.equal(keyhold(["scan"], { cwd: repo, env }).code, 0);
    writeFileSync(join(repo, "other.conf"), `token: ${githubToken}\n`);
    const r = keyhold(["scan"], { cwd: repo, env });
    assert.equal(r.code, 3);
    assert.match(r.stdout, /1 accepted by the baseline/);
  });

  it("allow.paths in the policy file skips files", () => {
    const policy = JSON.parse(readFileSync(join(repo, POLICY_FILE), "utf8"));
    policy.allow.paths = ["other.conf"];
    writeFileSync(join(repo, POLICY_FILE), JSON.stringify(policy));
    const r = keyhold(["scan"], { cwd: repo, env });
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /1 allowlisted/);
  });

  it("--staged scans only what is staged; --history finds a deleted value and its commit", () => {
    const staged = keyhold(["scan", "--staged"], { cwd: repo, env });
    assert.equal(staged.code, 0, staged.stdout); // nothing staged yet
    writeFileSync(join(repo, "leak.txt"), `key=${canary}\n`);
    git(repo, ["add", "leak.txt"]);
    const r = keyhold(["scan", "--staged", "--json"], { cwd: repo, env });
    assert.equal(r.code, 3);
    assert.deepEqual(
      JSON.parse(r.stdout).findings.map((f: { path: string }) => f.path),
      ["leak.txt"],
    );
    git(repo, ["commit", "-qm", "oops"]);
    const commit = git(repo, ["rev-parse", "HEAD"]).trim();
    git(repo, ["rm", "-q", "leak.txt"]);
    git(repo, ["commit", "-qm", "remove the leak (not enough)"]);
    const h = keyhold(["scan", "--history", "--json"], { cwd: repo, env });
    assert.equal(h.code, 3);
    const finding = JSON.parse(h.stdout).findings.find((f: { path: string }) => f.path === "leak.txt");
    assert.equal(finding.commit, commit);
    assert.match(finding.remediation.compromised, new RegExp(`since commit ${commit.slice(0, 12)}`));
  });

  it("--replacements feeds git filter-repo with the leaked values, and only to a pipe", () => {
    const r = keyhold(["scan", "--history", "--replacements"], { cwd: repo, env });
    assert.equal(r.code, 3);
    assert.ok(r.stdout.split("\n").includes(`literal:${canary}==>***REMOVED***`));
  });

  it("without access to the scan key, pattern rules still run and a note says known values are off", () => {
    const noKey = { ...env, SYSTEMD_CREDENTIAL_SECRET: join(scratch.root, "host", "other.secret") };
    writeFileSync(join(scratch.root, "host", "other.secret"), Buffer.alloc(4096, 7), { mode: 0o600 });
    const r = keyhold(["scan", "--history"], { cwd: repo, env: noKey });
    assert.match(r.stderr, /known-value detection is off/);
    assert.ok(!r.stderr.includes(canary));
  });

  it("bad usage and fatal errors exit 2 with a coded one-line error", () => {
    const both = keyhold(["scan", "--staged", "--history"], { cwd: repo, env });
    assert.equal(both.code, 2);
    assert.match(
      both.stderr,
      /^keyhold: --staged, --history, --range, --since, --pre-receive and --commit-message cannot be combined \[USAGE\]$/m,
    );
    const unknown = keyhold(["scan", "--frobnicate"], { cwd: repo, env });
    assert.equal(unknown.code, 2);
    const outside = keyhold(["scan", "--history", scratch.state], { cwd: scratch.root, env });
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /\[NOT_A_GIT_REPOSITORY\]/);
    const missing = keyhold(["scan", join(scratch.root, "nope")], { cwd: repo, env });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /\[FILE_NOT_FOUND\]/);
    const badPolicy = join(scratch.root, "bad.json");
    writeFileSync(badPolicy, "{nope");
    const policy = keyhold(["scan", "--baseline", badPolicy], { cwd: repo, env });
    assert.equal(policy.code, 2);
    assert.match(policy.stderr, /\[INVALID_FORMAT\]/);
  });

  it("--history judges a blob by every path it had: a key first committed as an allowlisted fixture, then as config, is found", () => {
    const dir = join(scratch.root, "paths");
    mkdirSync(join(dir, "fixtures"), { recursive: true });
    git(dir, ["init", "-q", "-b", "main"]);
    writeFileSync(
      join(dir, POLICY_FILE),
      JSON.stringify({ version: 1, allow: { paths: ["fixtures/**", "*.pdf"] } }),
    );
    const content = `TOKEN=${githubToken}\n`;
    writeFileSync(join(dir, "fixtures", "sample.env"), content);
    writeFileSync(join(dir, "report.pdf"), content);
    git(dir, ["add", "."]);
    git(dir, ["commit", "-qm", "fixtures"]);
    writeFileSync(join(dir, "app.env"), content);
    git(dir, ["add", "app.env"]);
    git(dir, ["commit", "-qm", "config"]);
    const r = keyhold(["scan", "--history", "--json"], { cwd: dir, env });
    assert.equal(r.code, 3, r.stderr);
    const found = JSON.parse(r.stdout).findings.map(
      (f: { path: string; rule: string }) => `${f.path} ${f.rule}`,
    );
    assert.deepEqual(found, ["app.env github-token"]);
  });

  it("a key inlined into a committed bundle, a .min.js or a source map is found", () => {
    const dir = join(scratch.root, "bundles");
    mkdirSync(join(dir, "dist"), { recursive: true });
    git(dir, ["init", "-q", "-b", "main"]);
    const filler = "var a=function(b){return b*2};".repeat(400); // one long line, as a bundler writes
    writeFileSync(join(dir, "dist", "bundle.js"), `${filler}const k="${githubToken}";${filler}\n`);
    writeFileSync(join(dir, "dist", "app.min.js"), `${filler}const k="${githubToken}";\n`);
    writeFileSync(
      join(dir, "dist", "app.js.map"),
      JSON.stringify({ version: 3, sourcesContent: [`const k = "${githubToken}";\n`] }),
    );
    const r = keyhold(["scan", "--json"], { cwd: dir, env });
    assert.equal(r.code, 3, r.stderr);
    const found = JSON.parse(r.stdout).findings.map((f: { path: string }) => f.path);
    assert.deepEqual(found.sort(), ["dist/app.js.map", "dist/app.min.js", "dist/bundle.js"]);
  });

  it("a .env saved as UTF-16 (Windows PowerShell's default) is scanned, not skipped as binary", () => {
    const dir = join(scratch.root, "utf16");
    mkdirSync(dir);
    git(dir, ["init", "-q", "-b", "main"]);
    writeFileSync(
      join(dir, ".env"),
      Buffer.from(`\ufeffPAYMENTS_KEY=${canary}\r\nGITHUB=${githubToken}\r\n`, "utf16le"),
    );
    const be = Buffer.from(`\ufeffGITHUB=${githubToken}\n`, "utf16le").swap16();
    writeFileSync(join(dir, "be.txt"), be);
    const r = keyhold(["scan", "--json"], { cwd: dir, env });
    assert.equal(r.code, 3, r.stderr);
    const found = JSON.parse(r.stdout).findings.map(
      (f: { path: string; rule: string; line: number }) => `${f.path}:${f.line} ${f.rule}`,
    );
    assert.deepEqual(found.sort(), [
      ".env:1 keyhold-known-value",
      ".env:2 github-token",
      "be.txt:1 github-token",
    ]);
    assert.ok(!r.stdout.includes(canary));
  });

  it("file names cannot drive the terminal or a CI log: controls are escaped, no line starts with '::'", () => {
    const hostile = join(scratch.root, "names");
    mkdirSync(hostile);
    git(hostile, ["init", "-q", "-b", "main"]);
    const names = [
      "x\x1b[2K\r::warning title=ok::all clean\x1b[8m",
      "nl\n::add-mask::keyhold",
      "::error::fake",
    ];
    for (const name of names) writeFileSync(join(hostile, name), `KEY=${canary}\n`);
    const r = keyhold(["scan"], { cwd: hostile, env });
    assert.equal(r.code, 3, r.stderr);
    assert.ok(!/[\x00-\x09\x0b-\x1f\x7f]/.test(r.stdout), "no control character but the line ends");
    for (const line of r.stdout.split("\n")) assert.ok(!line.startsWith("::"), JSON.stringify(line));
    assert.match(r.stdout, /^x\\x1b\[2K\\x0d::warning title=ok::all clean\\x1b\[8m:1:5: /m);
    assert.match(r.stdout, /^nl\\x0a::add-mask::keyhold:1:5: /m);
    assert.match(r.stdout, /^\.\/::error::fake:1:5: /m);
    assert.ok(!r.stdout.includes(canary));
  });

  it("a hostile repository's policy file (a link to /dev/zero, a FIFO) is refused, not read for ever", () => {
    const hostile = join(scratch.root, "hostile");
    mkdirSync(hostile);
    git(hostile, ["init", "-q", "-b", "main"]);
    writeFileSync(join(hostile, "a.txt"), "nothing here\n");
    symlinkSync("/dev/zero", join(hostile, POLICY_FILE));
    const linked = keyhold(["scan"], { cwd: hostile, env });
    assert.equal(linked.code, 2, linked.stderr);
    assert.match(linked.stderr, /^keyhold: refusing to follow a symbolic link: .*\[SYMLINK_REFUSED\]$/m);
    rmSync(join(hostile, POLICY_FILE));
    assert.equal(spawnSync("mkfifo", [join(hostile, POLICY_FILE)]).status, 0);
    const fifo = keyhold(["scan"], { cwd: hostile, env });
    assert.equal(fifo.code, 2, fifo.stderr);
    assert.match(fifo.stderr, /\[NOT_A_FILE\]$/m);
  });

  it("progress stays off in a pipe (stderr is empty on a clean scan)", () => {
    const r = keyhold(["scan", "--history", "--no-known-values", "--baseline", join(repo, POLICY_FILE)], {
      cwd: repo,
      env,
    });
    assert.ok(!r.stderr.includes("\r"));
  });

  it("the index and every file keyhold wrote hold no trace of the stored value", () => {
    for (const entry of readdirSync(scratch.state)) {
      assert.ok(!readFileSync(join(scratch.state, entry), "latin1").includes(canary), entry);
    }
  });
});

describe("keyhold hook install", () => {
  let scratch: Scratch;
  before(() => {
    scratch = makeScratch("keyhold-scan-hook-");
  });
  after(() => scratch?.cleanup());

  it("installs a pre-commit hook that blocks a commit with a key and lets a clean one through", () => {
    const repo = join(scratch.root, "repo");
    mkdirSync(repo);
    git(repo, ["init", "-q", "-b", "main"]);
    const env = scratch.env;
    const r = keyhold(["hook", "install"], { cwd: repo, env });
    assert.equal(r.code, 0, r.stderr);
    const hook = join(repo, ".git", "hooks", "pre-commit");
    assert.ok(existsSync(hook));
    assert.equal(statSync(hook).mode & 0o777, 0o755);
    writeFileSync(join(repo, "clean.txt"), "hello\n");
    git(repo, ["add", "clean.txt"]);
    const ok = spawnSync("git", ["commit", "-qm", "clean"], {
      cwd: repo,
      env: { ...GIT_ENV, ...env },
      encoding: "utf8",
    });
    assert.equal(ok.status, 0, ok.stderr);
    writeFileSync(join(repo, "settings.py"), `GITHUB = "${githubToken}"\n`);
    git(repo, ["add", "settings.py"]);
    const blocked = spawnSync("git", ["commit", "-qm", "leak"], {
      cwd: repo,
      env: { ...GIT_ENV, ...env },
      encoding: "utf8",
    });
    assert.notEqual(blocked.status, 0);
    // git hands a hook's stdout to its own stderr.
    assert.match(blocked.stderr, /settings\.py:1:11: github-token/);
    assert.equal(git(repo, ["rev-list", "--count", "HEAD"]).trim(), "1");
  });

  it("refuses to replace someone else's hook without --force, and keeps it as a backup with --force", () => {
    const repo = join(scratch.root, "repo2");
    mkdirSync(repo);
    git(repo, ["init", "-q", "-b", "main"]);
    const hook = join(repo, ".git", "hooks", "pre-commit");
    writeFileSync(hook, "#!/bin/sh\necho mine\n", { mode: 0o755 });
    const refused = keyhold(["hook", "install"], { cwd: repo, env: scratch.env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\[HOOK_EXISTS\]/);
    assert.equal(readFileSync(hook, "utf8"), "#!/bin/sh\necho mine\n");
    const forced = keyhold(["hook", "install", "--force"], { cwd: repo, env: scratch.env });
    assert.equal(forced.code, 0);
    assert.equal(readFileSync(`${hook}.keyhold-backup`, "utf8"), "#!/bin/sh\necho mine\n");
  });

  it("never reads a hook that is a link (to /dev/zero, a FIFO) in a tracked hooks directory", () => {
    const repo = join(scratch.root, "repo3");
    mkdirSync(join(repo, ".husky"), { recursive: true });
    git(repo, ["init", "-q", "-b", "main"]);
    git(repo, ["config", "core.hooksPath", ".husky"]);
    const hook = join(repo, ".husky", "pre-commit");
    const fifo = join(repo, ".husky", "fifo");
    assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
    for (const target of ["/dev/zero", fifo]) {
      rmSync(hook, { force: true });
      symlinkSync(target, hook);
      const refused = keyhold(["hook", "install"], { cwd: repo, env: scratch.env });
      assert.equal(refused.code, 1, `${target}: ${refused.stderr}`);
      assert.match(refused.stderr, /\[HOOK_EXISTS\]/);
    }
  });
});

describe("keyhold's own repository", () => {
  it("is clean under keyhold scan (tree)", (t) => {
    if (!existsSync(join(ROOT, ".git"))) {
      t.skip("not running from a git checkout of keyhold");
      return;
    }
    const r = keyhold(["scan", "--no-known-values", ROOT], { cwd: ROOT, env: {} });
    assert.equal(r.code, 0, r.stdout);
  });
});

describe("keyhold scan - (standard input)", () => {
  let scratch: Scratch;
  let env: NodeJS.ProcessEnv;
  let canary: string;

  before(async () => {
    scratch = makeScratch("keyhold-scan-stdin-");
    env = scratch.env;
    canary = makeCanary("scan-stdin");
    const index = await openFingerprintIndex(scratch.state, { env });
    await index.record("payments_api_key", Secret.fromString(canary), "credstore");
  });
  after(() => scratch?.cleanup());

  it("a patch piped in: findings by line and column of the input, masked, exit 3", () => {
    const patch = [
      "diff --git a/app.conf b/app.conf",
      "--- a/app.conf",
      "+++ b/app.conf",
      "@@ -1 +1,3 @@",
      " name = app",
      `+token = "${githubToken}"`,
      `+payments = ${canary}`,
      "",
    ].join("\n");
    const r = keyhold(["scan", "-"], { cwd: scratch.root, env, input: patch });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^<stdin>:6:11: github-token: GitHub token: ghp_…\(40\)$/m);
    assert.match(r.stdout, /^<stdin>:7:13: keyhold-known-value: /m);
    assert.match(r.stdout, /keyhold scan \(stdin\): 2 findings in standard input/);
    for (const out of [r.stdout, r.stderr]) {
      assert.ok(!out.includes(githubToken) && !out.includes(canary), "no value in the output");
    }
    const json = keyhold(["scan", "-", "--json"], { cwd: scratch.root, env, input: patch });
    assert.equal(json.code, 3);
    const report = JSON.parse(json.stdout) as { mode: string; findings: { path: string; line: number }[] };
    assert.equal(report.mode, "stdin");
    assert.deepEqual(
      report.findings.map((f) => `${f.path}:${f.line}`),
      ["<stdin>:6", "<stdin>:7"],
    );
    assert.ok(!json.stdout.includes(githubToken) && !json.stdout.includes(canary));
  });

  it("clean input exits 0; empty input too", () => {
    for (const input of ["just words\n", ""]) {
      const r = keyhold(["scan", "-"], { cwd: scratch.root, env, input });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /keyhold scan \(stdin\): no findings in standard input/);
    }
  });

  it("input with a NUL byte is still scanned: binary-looking input never passes a key as clean", () => {
    const input = `token = "${githubToken}"\n\u0000\n`;
    const r = keyhold(["scan", "-", "--no-known-values"], { cwd: scratch.root, env, input });
    assert.equal(r.code, 3, r.stdout);
    assert.match(r.stdout, /^<stdin>:1:10: github-token: /m);
    assert.ok(!r.stdout.includes(githubToken) && !r.stderr.includes(githubToken));
  });

  it("input over --max-size is refused whole with TOO_LARGE, not scanned in part", () => {
    const input = `${"x".repeat(200)}\ntoken = "${githubToken}"\n`;
    const r = keyhold(["scan", "-", "--max-size", "100"], { cwd: scratch.root, env, input });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /standard input is over 100 bytes \[TOO_LARGE\]/);
    assert.equal(r.stdout, "", "no report that could pass for clean");
  });

  it("- with another mode, --all-files or --update-baseline is a usage error", () => {
    for (const extra of [["--history"], ["--staged"], ["--all-files"], ["--update-baseline"]]) {
      const r = keyhold(["scan", "-", ...extra], { cwd: scratch.root, env, input: "" });
      assert.equal(r.code, 2, extra.join(" "));
      assert.match(r.stderr, /\[USAGE\]/);
    }
  });
});
