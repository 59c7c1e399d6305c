import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { makeMountPoint, SNAPSHOT_LIMITS, SnapshotError, takeSnapshot } from "../../src/jobs/snapshot.js";

/**
 * takeSnapshot (codePolicy "committed") on repositories laid out to make the server block, follow
 * a link, or write outside the copy: each refused with its code, none of them running anything.
 */

let root: string;
let n = 0;

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.org", ...args], {
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
  });
}

function repo(files: Record<string, string> = { "run.sh": "echo hi\n" }): string {
  const dir = join(root, `repo-${n++}`);
  mkdirSync(dir);
  git(dir, "init", "-q");
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  git(dir, "add", "-A");
  git(dir, "commit", "-qm", "first");
  return dir;
}

function work(): string {
  const dir = join(root, `work-${n++}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

async function refused(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof SnapshotError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

describe("takeSnapshot", () => {
  before(() => {
    root = mkdtempSync(join(tmpdir(), "keyhold-snapshot-"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test("copies the commit HEAD names, from a subdirectory too, and nothing else", async () => {
    const dir = repo({ "src/run.sh": "echo hi\n", "bin/tool": "#!/bin/sh\n" });
    execFileSync("chmod", ["+x", join(dir, "bin/tool")]);
    git(dir, "add", "-A");
    git(dir, "commit", "-qm", "exec bit");
    writeFileSync(join(dir, "src/run.sh"), "edited\n");
    writeFileSync(join(dir, "untracked"), "x\n");
    const snap = await takeSnapshot(join(dir, "src"), work());
    assert.equal(snap.revision, git(dir, "rev-parse", "HEAD").trim());
    assert.equal(snap.root, dir);
    assert.equal(readFileSync(join(snap.tree, "src/run.sh"), "utf8"), "echo hi\n");
    assert.equal(execFileSync("ls", ["-A", snap.tree], { encoding: "utf8" }), "bin\nsrc\n");
    assert.equal(
      execFileSync("stat", ["-c", "%a", join(snap.tree, "bin/tool")], { encoding: "utf8" }),
      "755\n",
    );
  });

  test("limits: size, entries and time each end the copy with SNAPSHOT_LIMIT", async () => {
    const dir = repo({ a: "x".repeat(2000), b: "y" });
    await refused(
      takeSnapshot(dir, work(), { ...SNAPSHOT_LIMITS, maxBytes: 1000 }),
      "SNAPSHOT_LIMIT",
      /larger than 1000 bytes/,
    );
    await refused(
      takeSnapshot(dir, work(), { ...SNAPSHOT_LIMITS, maxEntries: 1 }),
      "SNAPSHOT_LIMIT",
      /more than 1 entries/,
    );
    await refused(
      takeSnapshot(dir, work(), { ...SNAPSHOT_LIMITS, timeoutMs: 0 }),
      "SNAPSHOT_LIMIT",
      /took longer than 0s/,
    );
  });

  test("a FIFO as HEAD is refused without blocking the server", async () => {
    const dir = repo();
    rmSync(join(dir, ".git/HEAD"));
    execFileSync("mkfifo", [join(dir, ".git/HEAD")]);
    await refused(
      takeSnapshot(dir, work()),
      "CODE_NOT_COMMITTED",
      /HEAD in the repository is not a regular file/,
    );
  });

  test("a ref directory that is a symbolic link is not followed", async () => {
    const dir = repo();
    const elsewhere = repo({ "run.sh": "echo other\n" });
    rmSync(join(dir, ".git/refs/heads"), { recursive: true });
    symlinkSync(join(elsewhere, ".git/refs/heads"), join(dir, ".git/refs/heads"));
    // Opened without following it, the link is as good as absent: the other repository's ref is not read.
    await refused(takeSnapshot(dir, work()), "CODE_NOT_COMMITTED", /refs\/heads\/\w+ has no commit yet/);
  });

  test("a .git file leading to a directory of another owner is refused", async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip("needs root to chown");
      return;
    }
    const target = repo();
    execFileSync("chown", ["-R", "65534:65534", join(target, ".git")]);
    const dir = join(root, `pointer-${n++}`);
    mkdirSync(dir);
    writeFileSync(join(dir, ".git"), `gitdir: ${join(target, ".git")}\n`);
    chownSync(join(dir, ".git"), 0, 0);
    await refused(takeSnapshot(dir, work()), "CODE_NOT_COMMITTED", /owned by uid 65534/);
  });

  test("tree entries that would write outside the copy are refused", async () => {
    for (const name of ["..", ".git", ".GIT"]) {
      const dir = repo();
      const blob = execFileSync("git", ["-C", dir, "hash-object", "-w", "--stdin"], {
        input: "echo planted\n",
        encoding: "utf8",
      }).trim();
      // A tree git itself would never write, made with hash-object --literally.
      const entry = Buffer.concat([Buffer.from(`100644 ${name}\0`), Buffer.from(blob, "hex")]);
      const tree = execFileSync(
        "git",
        ["-C", dir, "hash-object", "-w", "-t", "tree", "--literally", "--stdin"],
        {
          input: entry,
          encoding: "utf8",
        },
      ).trim();
      const commit = git(dir, "commit-tree", tree, "-m", "bad").trim();
      git(dir, "update-ref", "HEAD", commit);
      await refused(takeSnapshot(dir, work()), "SNAPSHOT_FAILED", /cannot be written safely/);
    }
  });

  test("the outputs directory cannot be placed through a link the commit holds", async () => {
    const dir = repo({ "run.sh": "echo hi\n" });
    symlinkSync("/tmp", join(dir, "outputs"));
    git(dir, "add", "-A");
    git(dir, "commit", "-qm", "a link where the outputs go");
    const snap = await takeSnapshot(dir, work());
    assert.throws(
      () => makeMountPoint(snap, join(dir, "outputs", "logs")),
      (err: unknown) => err instanceof SnapshotError && /a file or link where/.test(err.message),
    );
  });
});
