import assert from "node:assert/strict";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { checkoutUnreadableBy } from "../support/checkout.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { createTestUser, type TestUser } from "../support/users.js";
import { git, runKeyhold } from "./support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

/**
 * `sudo keyhold scan --history` of a repository a developer owns: git refuses another user's
 * repository unless safe.directory names it, and the repository's own configuration is still the
 * developer's to write (core.worktree, core.fsmonitor). keyhold names exactly that one work tree,
 * pins it, and runs nothing the repository names. Needs root and useradd.
 */
const isRoot = process.geteuid?.() === 0;
const random = new SeededRandom("keyhold-root-scan");
const token = () => expandTemplate(KEY_TEMPLATES["github-token"]!, random);

function chownTree(path: string, user: TestUser): void {
  chownSync(path, user.uid, user.gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownTree(child, user);
    else chownSync(child, user.uid, user.gid);
  }
}

describe("keyhold scan as root of a repository another user owns", {
  skip: !isRoot && "needs root (useradd, chown)",
}, () => {
  let scratch: Scratch;
  let user: TestUser;
  let count = 0;

  before(() => {
    scratch = makeScratch("keyhold-root-scan-");
    chmodSync(scratch.root, 0o755);
    user = createTestUser("scan");
  });
  after(() => {
    user.remove();
    scratch.cleanup();
  });

  /** A repository whose history once held a key, given to the test user. */
  function usersRepository(setup?: (dir: string) => void): string {
    const dir = join(scratch.root, `repo${++count}`);
    mkdirSync(dir);
    git(dir, ["init", "-q", "-b", "main"]);
    writeFileSync(join(dir, "settings.py"), `TOKEN = "${token()}"\n`);
    writeFileSync(join(dir, "notes.txt"), "nothing here\n");
    git(dir, ["add", "."]);
    git(dir, ["commit", "-qm", "start"]);
    writeFileSync(join(dir, "settings.py"), 'TOKEN = ""\n');
    git(dir, ["commit", "-qam", "remove the key"]);
    setup?.(dir);
    chownTree(dir, user);
    return dir;
  }

  const scan = (args: string[], cwd: string) =>
    runKeyhold(["scan", "--no-known-values", "--no-progress", ...args], { cwd, env: {} });

  it("--history finds the key in the history of the user's repository", () => {
    const repo = usersRepository();
    const r = scan(["--history", repo], scratch.root);
    assert.doesNotMatch(r.stderr, /GIT_FAILED|dubious/, r.stderr);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /settings\.py:1:\d+: github-token/);
  });

  it("the repository's core.worktree cannot point root's scan at a root-only directory, nor its fsmonitor run", () => {
    const secret = join(scratch.root, "private");
    mkdirSync(secret, { mode: 0o700 });
    writeFileSync(join(secret, "notes.txt"), `TOKEN = "${token()}"\n`);
    const marker = join(scratch.root, "fsmonitor.ran");
    const script = join(scratch.root, "fsmonitor.sh");
    writeFileSync(script, `#!/bin/sh\necho ran >> ${marker}\n`, { mode: 0o755 });
    const repo = usersRepository((dir) => {
      git(dir, ["config", "core.worktree", secret]);
      git(dir, ["config", "core.fsmonitor", script]);
    });
    for (const cwd of [repo, scratch.root]) {
      const r = scan(cwd === repo ? [] : [repo], cwd);
      assert.doesNotMatch(r.stdout, /github-token/, "read a file of the directory core.worktree named");
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!existsSync(marker), "ran the repository's fsmonitor");
    }
  });

  it("a repository whose .git is a file pointing elsewhere is refused in plain words", () => {
    const repo = usersRepository((dir) => {
      git(dir, ["init", "-q", "--separate-git-dir", join(dir, "real.git")]);
    });
    const r = scan(["--history", repo], scratch.root);
    assert.equal(r.code, 2, r.stdout);
    assert.match(
      r.stderr,
      /^keyhold: git refuses the repository at ".*": another user owns it \[GIT_FAILED\]$/m,
    );
    assert.doesNotMatch(r.stderr, /git config --global/);
  });

  it("a user who cannot read root's index of stored values is told known-value detection is off", (t) => {
    const unreadable = checkoutUnreadableBy(user.prefix);
    if (unreadable !== undefined) return t.skip(unreadable);
    const state = join(scratch.root, "state");
    mkdirSync(state, { mode: 0o700 });
    writeFileSync(join(state, "scan-index.json"), "{}\n", { mode: 0o600 });
    const dir = join(scratch.root, "plain");
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(join(dir, "a.txt"), "hello\n", { mode: 0o644 });
    const r = runKeyhold(["scan", "--no-progress", "--state", state, dir], {
      cwd: scratch.root,
      env: {},
      prefix: user.prefix,
    });
    assert.equal(r.code, 0, r.stderr);
    const notes = r.stderr.split("\n").filter((l) => /known-value detection is off/.test(l));
    assert.equal(notes.length, 1, r.stderr);
    assert.match(
      notes[0] ?? "",
      /^keyhold: note: known-value detection is off: cannot read the index of stored values in .* \(EACCES\)/,
    );
  });
});
