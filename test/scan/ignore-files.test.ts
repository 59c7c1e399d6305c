import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gitleaksMatcher, parseGitleaksIgnore, parseSecretlintIgnore } from "../../src/scan/index.js";
import { isKeyholdError } from "../../src/secret/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { git, initRepository, runKeyhold } from "./support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

/*
 * .gitleaksignore and .secretlintignore at the top of the scanned repository: the decisions of
 * people coming from gitleaks or secretlint. Both files come with the repository, so the
 * hostile forms (links, FIFOs, huge or binary files, garbage) are refused with a coded error
 * before anything is scanned.
 */

const random = new SeededRandom("keyhold-scan-ignore-files");
const githubToken = expandTemplate(KEY_TEMPLATES["github-token"]!, random);
const genericValue = `${random.chars("alnum", 12)}${random.chars("digit", 4)}${random.chars("alnum", 16)}`;
const COMMIT = "0123456789abcdef0123456789abcdef01234567";

const invalidFormat = (err: unknown) => isKeyholdError(err, "INVALID_FORMAT");

describe(".gitleaksignore: parsing", () => {
  it("reads both fingerprint forms, comments, blank lines, CRLF, a BOM and file names holding ':'", () => {
    const text = `\uFEFF# accepted on review\r\napp.conf:github-pat:2\r\n\r\n${COMMIT}:src/a:b.py:generic-api-key:14\n  docs/x.md:custom-rule:7  \n`;
    assert.deepEqual(parseGitleaksIgnore(Buffer.from(text)), [
      { file: "app.conf", rule: "github-pat", line: 2 },
      { commit: COMMIT, file: "src/a:b.py", rule: "generic-api-key", line: 14 },
      { file: "docs/x.md", rule: "custom-rule", line: 7 },
    ]);
  });

  for (const [what, bytes] of [
    ["a line that is not a fingerprint", Buffer.from("app.conf:github-pat:2\nnot a fingerprint\n")],
    ["line 0", Buffer.from("app.conf:github-pat:0\n")],
    ["a line number that is not one", Buffer.from("app.conf:github-pat:2a\n")],
    ["no file", Buffer.from(":github-pat:2\n")],
    ["a rule id with a blank", Buffer.from("app.conf:github pat:2\n")],
    ["NUL bytes", Buffer.from("app.conf:github-pat:2\n\0\0\0")],
    ["bytes that are not UTF-8", Buffer.from([0x61, 0x3a, 0x62, 0x3a, 0x31, 0x0a, 0xff, 0xfe])],
    ["a line of 5000 characters", Buffer.from(`${"a".repeat(5000)}:github-pat:2\n`)],
    ["100,001 entries", Buffer.from("a:b:1\n".repeat(100_001))],
  ] as const) {
    it(`refuses ${what} with INVALID_FORMAT`, () => {
      assert.throws(() => parseGitleaksIgnore(bytes), invalidFormat);
    });
  }

  it("matches by file and line, the mapped rule, and the commit when both have one", () => {
    const accepts = gitleaksMatcher(
      parseGitleaksIgnore(
        Buffer.from(
          `app.conf:github-pat:2\n${COMMIT}:app.conf:generic-api-key:4\nlib.js:some-custom-rule:9\n`,
        ),
      ),
    );
    const f = (rule: string, line: number, path = "app.conf", commit?: string) => ({
      rule,
      line,
      path,
      commit,
    });
    assert.equal(accepts(f("github-token", 2)), true);
    assert.equal(accepts(f("github-token", 3)), false, "another line");
    assert.equal(accepts(f("github-token", 2, "other.conf")), false, "another file");
    assert.equal(accepts(f("slack-token", 2)), false, "another rule than the one github-pat maps to");
    assert.equal(accepts(f("openai-api-key", 4)), true, "gitleaks' generic rule: any rule at file and line");
    assert.equal(accepts(f("openai-api-key", 4, "app.conf", COMMIT)), true);
    assert.equal(accepts(f("openai-api-key", 4, "app.conf", "f".repeat(40))), false, "another commit");
    assert.equal(accepts(f("jwt", 9, "lib.js")), true, "an id keyhold has no counterpart of: file and line");
  });
});

describe(".secretlintignore: parsing", () => {
  it("gitignore patterns: anywhere, anchored, directories only, negation (the last match decides)", () => {
    const ignored = parseSecretlintIgnore(
      Buffer.from("# fixtures\n*.snap\n/vendor\nfixtures/\n!fixtures/keep.txt\n\\#hash.txt\n"),
    );
    const cases: [string, boolean][] = [
      ["a.snap", true],
      ["deep/er/b.snap", true],
      ["vendor/lib.js", true],
      ["src/vendor/lib.js", false],
      ["fixtures/a.txt", true],
      ["test/fixtures/a.txt", true],
      ["fixtures", false],
      ["fixtures/keep.txt", false],
      ["#hash.txt", true],
      ["src/app.ts", false],
    ];
    for (const [path, want] of cases) assert.equal(ignored(path), want, path);
  });

  for (const [what, text] of [
    ["a character class", "*.[ch]\n"],
    ["an escape it does not read", "a\\*b\n"],
    ["257 patterns", "a\n".repeat(257)],
    ["a pattern of 513 characters", `${"a".repeat(513)}\n`],
    ["a lone /", "/\n"],
  ] as const) {
    it(`refuses ${what} with INVALID_FORMAT`, () => {
      assert.throws(() => parseSecretlintIgnore(Buffer.from(text)), invalidFormat);
    });
  }
});

describe("keyhold scan reads .gitleaksignore and .secretlintignore at the top (CLI)", () => {
  let scratch: Scratch;
  let repo: string;
  let commit: string;

  before(() => {
    scratch = makeScratch("keyhold-scan-ignore-");
    repo = join(scratch.root, "repo");
    initRepository(repo);
    writeFileSync(
      join(repo, "app.conf"),
      `# settings\ngithub = "${githubToken}"\n\nclient_secret = "${genericValue}"\n`,
    );
    mkdirSync(join(repo, "fixtures"));
    writeFileSync(join(repo, "fixtures", "sample.conf"), `token = "${githubToken}"\n`);
    git(repo, ["add", "."]);
    git(repo, ["commit", "-qm", "config"]);
    commit = git(repo, ["rev-parse", "HEAD"]).trim();
  });
  after(() => scratch?.cleanup());

  const scan = (args: string[] = []) =>
    runKeyhold(["scan", "--json", "--no-known-values", ...args], { cwd: repo, env: scratch.env });
  const rules = (stdout: string) =>
    (JSON.parse(stdout) as { findings: { rule: string; path: string; line: number }[] }).findings.map(
      (f) => `${f.path}:${f.line} ${f.rule}`,
    );

  it("without them, all three findings are reported", () => {
    const r = scan();
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(rules(r.stdout), [
      "app.conf:2 github-token",
      "app.conf:4 generic-secret-assignment",
      "fixtures/sample.conf:1 github-token",
    ]);
  });

  it("gitleaks fingerprints (both forms) are accepted and a secretlint path is not read; --history too", () => {
    writeFileSync(
      join(repo, ".gitleaksignore"),
      `app.conf:github-pat:2\n${commit}:app.conf:generic-api-key:4\n`,
    );
    writeFileSync(join(repo, ".secretlintignore"), "fixtures/\n");
    const r = scan();
    assert.equal(r.code, 0, r.stdout);
    const stats = (JSON.parse(r.stdout) as { stats: { accepted: number; skipped: Record<string, number> } })
      .stats;
    assert.equal(stats.accepted, 2);
    assert.equal(stats.skipped.allowlisted, 1);
    const h = scan(["--history"]);
    assert.equal(h.code, 0, h.stdout);
  });

  it("a fingerprint of another line or commit does not hide a finding", () => {
    writeFileSync(
      join(repo, ".gitleaksignore"),
      `app.conf:github-pat:3\n${"f".repeat(40)}:app.conf:generic-api-key:4\n`,
    );
    const r = scan(["--history"]);
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(rules(r.stdout), ["app.conf:2 github-token", "app.conf:4 generic-secret-assignment"]);
  });

  it("--baseline names the policy: the repository's own ignore files are not read (a pull request cannot hide its key)", () => {
    writeFileSync(join(repo, ".gitleaksignore"), "app.conf:github-pat:2\napp.conf:generic-api-key:4\n");
    writeFileSync(join(repo, ".secretlintignore"), "*\n");
    const trusted = join(scratch.root, "trusted.json");
    writeFileSync(trusted, JSON.stringify({ version: 1 }));
    const r = scan(["--baseline", trusted]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(rules(r.stdout).length, 3);
  });

  it("hostile ignore files are refused with a coded error and exit 2, nothing scanned", () => {
    const file = join(repo, ".gitleaksignore");
    const cases: [string, () => void, RegExp][] = [
      ["garbage", () => writeFileSync(file, "this is not a fingerprint\n"), /\[INVALID_FORMAT\]/],
      ["binary", () => writeFileSync(file, Buffer.from([0, 1, 2, 0xff])), /\[INVALID_FORMAT\]/],
      ["a link to /dev/zero", () => symlinkSync("/dev/zero", file), /\[SYMLINK_REFUSED\]/],
      ["a FIFO", () => execFileSync("mkfifo", [file]), /\[NOT_A_FILE\]/],
      ["5 MiB", () => writeFileSync(file, "a:b:1\n".repeat(900_000)), /\[TOO_LARGE\]/],
    ];
    for (const [what, make, code] of cases) {
      rmSync(file, { force: true });
      make();
      const r = scan();
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr, code, what);
      assert.equal(r.stdout, "", what);
    }
    rmSync(file, { force: true });
    writeFileSync(join(repo, ".secretlintignore"), "*.[ch]\n");
    const r = scan();
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /\.secretlintignore is not valid: line 1 uses a character class.*\[INVALID_FORMAT\]/,
    );
  });
});
