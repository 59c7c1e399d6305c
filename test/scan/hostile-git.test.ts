import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { scanStaged } from "../../src/scan/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { GIT_ENV, git, type KeyholdRun, runKeyhold } from "./support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

// A scanned repository is hostile input: its config, its layout and its history must not make
// keyhold run a program, read outside the tree, or come out clean while a key is there.

/** `keyhold scan` with pattern rules only, as a CI job on someone else's repository would run it. */
function keyhold(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): KeyholdRun {
  return runKeyhold(["scan", "--no-known-values", "--no-progress", ...args], options);
}

const random = new SeededRandom("keyhold-scan-hostile-git");
const githubToken = expandTemplate(KEY_TEMPLATES["github-token"]!, random);

describe("keyhold scan on a hostile repository", () => {
  let scratch: Scratch;
  let env: NodeJS.ProcessEnv;
  let count = 0;

  /** A fresh repository with one clean commit. */
  function repository(): string {
    const dir = join(scratch.root, `repo${++count}`);
    mkdirSync(dir);
    git(dir, ["init", "-q", "-b", "main"]);
    writeFileSync(join(dir, "README.md"), "# a project\n");
    git(dir, ["add", "."]);
    git(dir, ["commit", "-qm", "start"]);
    return dir;
  }

  /** A script that appends to a marker file when run; returns [script, marker]. */
  function trap(name: string): [string, string] {
    const marker = join(scratch.root, `${name}.ran`);
    const script = join(scratch.root, `${name}.sh`);
    writeFileSync(script, `#!/bin/sh\necho ran >> '${marker}'\nexit 1\n`, { mode: 0o755 });
    return [script, marker];
  }

  before(() => {
    scratch = makeScratch("keyhold-scan-hostile-");
    env = scratch.env;
  });
  after(() => scratch?.cleanup());

  it("H1: core.fsmonitor in .git/config is not run by a tree, staged or history scan", () => {
    const repo = repository();
    const [script, marker] = trap("fsmonitor");
    git(repo, ["config", "core.fsmonitor", script]);
    writeFileSync(join(repo, "app.py"), `TOKEN = "${githubToken}"\n`);
    git(repo, ["-c", "core.fsmonitor=false", "add", "app.py"]);
    for (const mode of [[], ["--staged"], ["--history"]]) {
      const r = keyhold([...mode, repo], { cwd: scratch.root, env });
      assert.equal(r.code, mode[0] === "--history" ? 0 : 3, `${mode.join(" ")}: ${r.stderr}`);
      assert.ok(!existsSync(marker), `keyhold scan ${mode.join(" ")} ran core.fsmonitor`);
    }
  });

  it("H1: a tracked directory laid out as a bare repository is not taken as one", () => {
    const repo = repository();
    const [script, marker] = trap("embedded");
    const lib = join(repo, "vendor", "lib");
    mkdirSync(join(lib, "objects"), { recursive: true });
    mkdirSync(join(lib, "refs"), { recursive: true });
    writeFileSync(join(lib, "HEAD"), "ref: refs/heads/main\n");
    writeFileSync(join(lib, "objects", "keep"), "");
    writeFileSync(join(lib, "refs", "keep"), "");
    writeFileSync(join(lib, "config"), `[core]\n\tbare = false\n\tworktree = .\n\tfsmonitor = ${script}\n`);
    writeFileSync(join(lib, "settings.py"), `TOKEN = "${githubToken}"\n`);
    git(repo, ["add", "."]);
    for (const mode of [[], ["--staged"]]) {
      const r = keyhold([...mode, "vendor/lib"], { cwd: repo, env });
      assert.ok(!existsSync(marker), `keyhold scan ${mode.join(" ")} vendor/lib ran the embedded config`);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, /cannot use bare repository.*\[GIT_FAILED\]/);
    }
    // From the real repository the directory is plain content, and its key is found.
    const top = keyhold(["--staged"], { cwd: repo, env });
    assert.equal(top.code, 3, top.stderr);
    assert.match(top.stdout, /^vendor\/lib\/settings\.py:1:\d+: github-token/m);
    assert.ok(!existsSync(marker));
  });

  it("H1: a partial clone's lazy fetch does not run core.sshCommand in a history scan", () => {
    const repo = repository();
    const [script, marker] = trap("ssh");
    git(repo, ["config", "core.repositoryformatversion", "1"]);
    git(repo, ["config", "extensions.partialClone", "origin"]);
    git(repo, ["config", "remote.origin.url", "ssh://example.invalid/repo.git"]);
    git(repo, ["config", "remote.origin.promisor", "true"]);
    git(repo, ["config", "core.sshCommand", script]);
    // A commit whose tree names a blob the repository does not have.
    const absent = "1234567890abcdef1234567890abcdef12345678";
    const tree = git(repo, ["mktree", "--missing"], `100644 blob ${absent}\tlost.txt\n`).trim();
    const commit = git(repo, ["commit-tree", tree, "-p", "HEAD", "-m", "lost"]).trim();
    git(repo, ["update-ref", "refs/heads/lost", commit]);
    const r = keyhold(["--history", "--json"], { cwd: repo, env });
    assert.ok(!existsSync(marker), "keyhold scan --history ran core.sshCommand");
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.stats.skipped.missing, 1);
    assert.match(out.stats.warnings.join("\n"), /history is incomplete: 1 object is missing/);
    assert.match(r.stderr, /^keyhold: warning: history is incomplete: 1 object is missing/m);
  });

  it("L6: an empty PATH entry does not run a git committed in the scanned repository", () => {
    const repo = repository();
    const marker = join(scratch.root, "path-git.ran");
    writeFileSync(join(repo, "git"), `#!/bin/sh\necho ran >> '${marker}'\nexit 1\n`, { mode: 0o755 });
    git(repo, ["add", "git"]);
    git(repo, ["commit", "-qm", "a git of our own"]);
    const r = keyhold([repo], { cwd: scratch.root, env: { ...env, PATH: `:${env.PATH}` } });
    assert.ok(!existsSync(marker), "keyhold ran the repository's own git");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no findings in 2 files/);
  });

  it("L5: a replace ref does not hide a key from a history scan", () => {
    const repo = repository();
    writeFileSync(join(repo, "app.py"), `TOKEN = "${githubToken}"\n`);
    git(repo, ["add", "app.py"]);
    git(repo, ["commit", "-qm", "leak"]);
    const leaked = git(repo, ["rev-parse", "HEAD:app.py"]).trim();
    const clean = git(repo, ["hash-object", "-w", "--stdin"], "TOKEN = None\n").trim();
    git(repo, ["replace", leaked, clean]);
    const r = keyhold(["--history"], { cwd: repo, env });
    assert.equal(r.code, 3, r.stdout);
    assert.match(r.stdout, /^app\.py:1:\d+: github-token/m);
  });

  it("a range scan runs none of the repository's programs and a replace ref does not hide the range's key", () => {
    const repo = repository();
    const [monitor, monitorRan] = trap("range-fsmonitor");
    const [ssh, sshRan] = trap("range-ssh");
    git(repo, ["config", "core.fsmonitor", monitor]);
    git(repo, ["config", "core.sshCommand", ssh]);
    writeFileSync(join(repo, "app.py"), `TOKEN = "${githubToken}"\n`);
    git(repo, ["-c", "core.fsmonitor=false", "add", "app.py"]);
    git(repo, ["-c", "core.fsmonitor=false", "commit", "-qm", "leak"]);
    const leaked = git(repo, ["rev-parse", "HEAD:app.py"]).trim();
    const clean = git(repo, ["hash-object", "-w", "--stdin"], "TOKEN = None\n").trim();
    git(repo, ["replace", leaked, clean]);
    const r = keyhold(["--range", "HEAD~1..HEAD"], { cwd: repo, env });
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /^app\.py:1:\d+: github-token/m);
    assert.ok(!existsSync(monitorRan) && !existsSync(sshRan), "a range scan ran the repository's programs");
  });

  it("L5: a history scan of a shallow clone says that history is incomplete", () => {
    const origin = repository();
    writeFileSync(join(origin, "later.txt"), "later\n");
    git(origin, ["add", "."]);
    git(origin, ["commit", "-qm", "later"]);
    const shallow = join(scratch.root, "shallow");
    git(scratch.root, ["clone", "-q", "--depth", "1", `file://${origin}`, shallow]);
    const r = keyhold(["--history", "--json"], { cwd: shallow, env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^keyhold: warning: history is incomplete: this is a shallow clone/m);
    assert.match(JSON.parse(r.stdout).stats.warnings.join("\n"), /shallow clone/);
    const full = keyhold(["--history"], { cwd: origin, env });
    assert.equal(full.stderr, "");
  });

  it("L4: a repository whose directory name ends in a space is scanned there, not next door", () => {
    const parent = join(scratch.root, "spaced");
    mkdirSync(parent);
    // The directory without the space allows everything; the one with it holds the key.
    writeFileSync(
      join(parent, ".keyhold-scan.json"),
      JSON.stringify({ version: 1, allow: { paths: ["**"] } }),
    );
    const repo = `${parent} `;
    mkdirSync(repo);
    git(repo, ["init", "-q", "-b", "main"]);
    writeFileSync(join(repo, "app.py"), `TOKEN = "${githubToken}"\n`);
    git(repo, ["add", "."]);
    git(repo, ["commit", "-qm", "leak"]);
    for (const mode of [[], ["--history"]]) {
      const r = keyhold([...mode, repo], { cwd: scratch.root, env });
      assert.equal(r.code, 3, `${mode.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /^app\.py:1:\d+: github-token/m);
    }
  });

  it("L2: a file reached through a symlinked parent directory outside the tree is not read", () => {
    const repo = repository();
    mkdirSync(join(repo, "conf"));
    writeFileSync(join(repo, "conf", "secret.txt"), "nothing here\n");
    git(repo, ["add", "."]);
    git(repo, ["commit", "-qm", "conf"]);
    const outside = join(scratch.root, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "secret.txt"), `TOKEN = "${githubToken}"\n`);
    renameSync(join(repo, "conf"), join(scratch.root, "conf-moved"));
    symlinkSync(outside, join(repo, "conf"));
    const r = keyhold(["--json", repo], { cwd: scratch.root, env });
    assert.equal(r.code, 0, r.stdout);
    assert.ok(!r.stdout.includes("ghp_"), "nothing from outside the tree is reported");
    assert.equal(JSON.parse(r.stdout).stats.skipped["outside-root"], 1);
    assert.match(r.stderr, /^keyhold: warning: 1 file reached through a symlinked directory outside/m);
    const text = keyhold([repo], { cwd: scratch.root, env });
    assert.match(text.stdout, /skipped: 1 outside-root/);
  });

  it("L3: a listed file that cannot be opened fails the scan (exit 2), named, never dropped", (t) => {
    // A path under PATH_MAX relative to the repository (git checks it out and lists it) but over
    // it absolute: open() fails with ENAMETOOLONG whatever the user (root included).
    const repo = join(scratch.root, "r".repeat(240));
    mkdirSync(repo);
    git(repo, ["init", "-q", "-b", "main"]);
    const dir = Array.from({ length: 16 }, (_, i) => `${i}`.padEnd(240, "d")).join("/");
    const made = spawnSync("sh", ["-c", 'mkdir -p "$1" && echo hello > "$1/f.txt"', "sh", dir], {
      cwd: repo,
    });
    // rmSync cannot remove a path that long; rm works relative to each directory.
    t.after(() => spawnSync("rm", ["-rf", dir.split("/")[0]!], { cwd: repo }));
    assert.equal(made.status, 0, made.stderr.toString());
    git(repo, ["add", "."]);
    assert.ok(repo.length + dir.length > 4096);
    const r = keyhold(["--json", repo], { cwd: scratch.root, env });
    assert.equal(r.code, 2, r.stderr);
    const stats = JSON.parse(r.stdout).stats;
    assert.equal(stats.skipped.unreadable, 1);
    assert.deepEqual(stats.failures, [`${dir}/f.txt: cannot read it (ENAMETOOLONG)`]);
    assert.match(r.stderr, /^keyhold: 1 file could not be read and was not scanned \[FILE_UNREADABLE\]$/m);
    assert.ok(r.stderr.includes(`keyhold: ${dir}/f.txt: cannot read it (ENAMETOOLONG)\n`), r.stderr);
    const text = keyhold([repo], { cwd: scratch.root, env });
    assert.equal(text.code, 2);
    assert.match(text.stdout, /no findings in 0 files .*skipped: 1 unreadable/);
    // Walking the directory (--all-files) fails the same way on the directory it cannot list.
    const walked = keyhold(["--all-files", repo], { cwd: scratch.root, env });
    assert.equal(walked.code, 2, walked.stderr);
    assert.match(walked.stderr, /: cannot list the directory \(ENAMETOOLONG\)$/m);
    const baseline = keyhold(["--update-baseline", repo], { cwd: scratch.root, env });
    assert.equal(baseline.code, 2, "no baseline is written from a scan that could not read every file");
    assert.ok(!existsSync(join(repo, ".keyhold-scan.json")));
  });

  it("L1: a staged blob over --max-size is never read into memory", async () => {
    const repo = repository();
    writeFileSync(join(repo, "dump.sql"), Buffer.alloc(8 * 1024 * 1024, "a"));
    writeFileSync(join(repo, "app.py"), `TOKEN = "${githubToken}"\n`);
    git(repo, ["add", "."]);
    // Every buffer keyhold allocates while scanning is recorded; none may be the size of the blob.
    const allocUnsafe = Buffer.allocUnsafe;
    let largest = 0;
    Buffer.allocUnsafe = (size: number) => {
      largest = Math.max(largest, size);
      return allocUnsafe(size);
    };
    let result: Awaited<ReturnType<typeof scanStaged>>;
    try {
      result = await scanStaged(repo, { maxSize: 1024 * 1024, env: { ...GIT_ENV, ...env } });
    } finally {
      Buffer.allocUnsafe = allocUnsafe;
    }
    assert.ok(largest < 1024 * 1024, `a ${largest}-byte buffer was allocated`);
    assert.equal(result.stats.skipped["too-large"], 1);
    assert.deepEqual(
      result.findings.map((f) => `${f.path} ${f.rule}`),
      ["app.py github-token"],
    );
    rmSync(join(repo, "dump.sql"));
  });

  it("the pre-commit hook still scans the temporary index of git commit -a and git commit PATH", () => {
    const repo = repository();
    const install = runKeyhold(["hook", "install"], { cwd: repo, env });
    assert.equal(install.code, 0, install.stderr);
    const commit = (args: string[]) =>
      spawnSync("git", ["commit", "-q", ...args], {
        cwd: repo,
        env: { ...GIT_ENV, ...env },
        encoding: "utf8",
      });
    writeFileSync(join(repo, "README.md"), `# a project\ntoken: ${githubToken}\n`);
    const all = commit(["-am", "leak with -a"]);
    assert.notEqual(all.status, 0);
    assert.match(all.stderr, /README\.md:2:\d+: github-token/);
    const path = commit(["-m", "leak by path", "README.md"]);
    assert.notEqual(path.status, 0);
    assert.match(path.stderr, /README\.md:2:\d+: github-token/);
    writeFileSync(join(repo, "README.md"), "# a project, still clean\n");
    assert.equal(commit(["-am", "clean"]).status, 0);
  });
});
