import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseRefUpdates } from "../../src/scan/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { GIT_ENV, git, runKeyhold } from "./support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

// A git server's bare repository with keyhold's pre-receive hook, pushed to over a real
// `git push`: a push that adds a key is refused (the ref does not move), a clean one goes
// through. The pushed objects sit in git's quarantine directory while the hook runs; keyhold
// keeps the variables git sets for it, or it could not read them and would refuse every push.

describe("keyhold hook install --pre-receive, over a real git push", () => {
  let scratch: Scratch;
  let server: string;
  let work: string;
  let env: NodeJS.ProcessEnv;
  // Planted keys are made here, from fresh randomness: none is ever committed to keyhold.
  const random = new SeededRandom(randomBytes(16).toString("hex"));
  const key = expandTemplate(KEY_TEMPLATES["github-token"]!, random);
  const otherKey = expandTemplate(KEY_TEMPLATES["npm-token"]!, random);

  function push(args: string[]) {
    const r = spawnSync("git", ["push", ...args], { cwd: work, env, encoding: "utf8", timeout: 60_000 });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  }
  const serverRef = (ref: string) =>
    spawnSync("git", ["--git-dir", server, "rev-parse", "--verify", "--quiet", ref], {
      env,
      encoding: "utf8",
    }).stdout.trim();
  function commit(files: Record<string, string>, message: string): string {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(work, path, ".."), { recursive: true });
      writeFileSync(join(work, path), content);
    }
    git(work, ["add", "-A"]);
    git(work, ["commit", "-qm", message]);
    return git(work, ["rev-parse", "HEAD"]).trim();
  }

  before(() => {
    scratch = makeScratch("keyhold-scan-pre-receive-");
    env = { ...GIT_ENV, ...scratch.env };
    server = join(scratch.root, "server.git");
    git(scratch.root, ["init", "-q", "--bare", "-b", "main", server]);
    const install = runKeyhold(["hook", "install", "--pre-receive", server], { cwd: scratch.root, env });
    assert.equal(install.code, 0, install.stderr);
    assert.match(install.stdout, /installed .*server\.git\/hooks\/pre-receive/);
    const hook = readFileSync(join(server, "hooks", "pre-receive"), "utf8");
    assert.match(hook, /scan --pre-receive --no-progress$/m);
    work = join(scratch.root, "work");
    git(scratch.root, ["clone", "-q", server, work]);
    git(work, ["checkout", "-q", "-b", "main"]);
  });
  after(() => scratch?.cleanup());

  it("accepts a clean first push (a new branch: old is all zeros)", () => {
    const head = commit({ "README.md": "# app\n" }, "start");
    const r = push(["-q", "origin", "main"]);
    assert.equal(r.code, 0, r.out);
    assert.equal(serverRef("main"), head);
  });

  it("refuses a push that adds a key, says where (masked), and the ref does not move", () => {
    const before = serverRef("main");
    commit({ "deploy/prod.env": `TOKEN=${key}\n` }, "deploy config");
    commit({ "src/app.js": "console.log(1)\n" }, "more work on top");
    const r = push(["origin", "main"]);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /remote: deploy\/prod\.env:1:7: github-token: GitHub token: ghp_…\(40\)/);
    assert.match(r.out, /pre-receive hook declined/);
    assert.ok(!r.out.includes(key), "the push output holds the key");
    assert.equal(serverRef("main"), before);
    git(work, ["reset", "-q", "--hard", before]);
  });

  it("refuses a new branch whose commits add a key, and a key in a commit message", () => {
    git(work, ["checkout", "-q", "-b", "feature"]);
    commit({ "notes.txt": "nothing here\n" }, `try with ${otherKey}`);
    const r = push(["origin", "feature"]);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /remote: commit [0-9a-f]{40} message:1:10: npm-token/);
    assert.equal(serverRef("feature"), "");
    git(work, ["checkout", "-q", "main"]);
    git(work, ["branch", "-q", "-D", "feature"]);
  });

  it("accepts a clean push on top, a new branch of known history, a tag, and a deleted branch", () => {
    const head = commit({ "src/app.js": "console.log(2)\n" }, "clean change");
    assert.equal(push(["-q", "origin", "main"]).code, 0);
    assert.equal(serverRef("main"), head);
    const branch = push(["-q", "origin", "main:refs/heads/release"]);
    assert.equal(branch.code, 0, branch.out);
    git(work, ["tag", "-a", "v1", "-m", "release one"]);
    assert.equal(push(["-q", "origin", "v1"]).code, 0);
    const del = push(["-q", "origin", ":refs/heads/release"]);
    assert.equal(del.code, 0, del.out);
    assert.equal(serverRef("release"), "");
  });

  it("judges a push by the policy in the server's HEAD: an accepted finding passes, a push cannot accept its own key", () => {
    const base = serverRef("main");
    // The key is first pushed with a baseline that accepts it: the baseline itself is new in the
    // push, so the server's HEAD does not have it yet and the push is refused.
    commit({ "docs/example.md": `token = "${key}"\n` }, "documented example");
    const accept = runKeyhold(["scan", "--no-known-values", "--history", "--update-baseline"], {
      cwd: work,
      env,
    });
    assert.equal(accept.code, 0, accept.stderr);
    git(work, ["add", ".keyhold-scan.json"]);
    git(work, ["commit", "-qm", "accept the example"]);
    const self = push(["origin", "main"]);
    assert.notEqual(self.code, 0, "a push accepted its own key");
    assert.equal(serverRef("main"), base);
    // Once the server's HEAD holds the baseline (pushed on its own, reviewed), the same finding
    // is accepted.
    const policy = readFileSync(join(work, ".keyhold-scan.json"), "utf8");
    git(work, ["reset", "-q", "--hard", base]);
    writeFileSync(join(work, ".keyhold-scan.json"), policy);
    git(work, ["add", ".keyhold-scan.json"]);
    git(work, ["commit", "-qm", "baseline"]);
    const admin = push(["-q", "origin", "main"]); // ids, rules and paths: nothing to refuse
    assert.equal(admin.code, 0, admin.out);
    commit({ "docs/example.md": `token = "${key}"\n` }, "documented example");
    const accepted = push(["origin", "main"]);
    assert.equal(accepted.code, 0, accepted.out);
  });

  it("reads only '<old> <new> <ref>' lines", () => {
    const zero = "0".repeat(40);
    const one = "1".repeat(40);
    assert.deepEqual(parseRefUpdates(Buffer.from(`${zero} ${one} refs/heads/x\n`)), [
      { old: zero, new: one, ref: "refs/heads/x" },
    ]);
    for (const bad of ["--all x y\n", `${zero} HEAD refs/heads/x\n`, `${zero}\n`]) {
      assert.throws(() => parseRefUpdates(Buffer.from(bad)), /pre-receive input/);
    }
    const r = runKeyhold(["scan", "--pre-receive", "--no-known-values"], {
      cwd: server,
      env: { ...env, GIT_DIR: server },
      input: "--output=/tmp/x --all refs/heads/main\n",
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\[USAGE\]/);
  });

  it("refuses to install into a work tree, and keeps a foreign pre-receive hook", () => {
    const r = runKeyhold(["hook", "install", "--pre-receive", work], { cwd: scratch.root, env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a bare repository: .*\[NOT_A_GIT_REPOSITORY\]/);
    const other = join(scratch.root, "other.git");
    git(scratch.root, ["init", "-q", "--bare", other]);
    writeFileSync(join(other, "hooks", "pre-receive"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const refused = runKeyhold(["hook", "install", "--pre-receive", other], { cwd: scratch.root, env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\[HOOK_EXISTS\]/);
    assert.equal(readFileSync(join(other, "hooks", "pre-receive"), "utf8"), "#!/bin/sh\nexit 0\n");
  });
});
