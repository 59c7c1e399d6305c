/**
 * root's `keyhold run`s share one ramfs at /run/keyhold/ramfs (src/credstore/run.ts), each run's
 * directory private inside it. Attacked here by the `--user` target of one run (a real account
 * made for the test, running its own code as the child) while a second run of root's is live:
 * - it can neither list the shared ramfs, nor watch it with inotify, nor enter or read the other
 *   run's directory even when it knows that directory's name, nor add, rename or link a name
 *   anywhere in the ramfs;
 * - it cannot grow the credential file it was handed (the ramfs has no size limit and its pages
 *   are never swapped out: a child that fills it takes the host's memory from everyone), neither
 *   while it runs nor through a process it leaves behind while keyhold removes the directory:
 *   as systemd does, keyhold gives it a ramfs of its own made read-only once the files are
 *   written, and wipes them through a writable view the child cannot reach;
 * - a --user run's directory left by a keyhold killed with SIGKILL, read-only mount included,
 *   is swept by the next run.
 */
import assert from "node:assert/strict";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { initWorld, runCli, runCliOk, startCli } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";
import { createTestUser, type TestUser } from "../support/users.js";

const RUN_RAMFS = "/run/keyhold/ramfs";

/** The --user child: each attempt and the error code it met (or "ok"), as JSON on stdout. */
const PROBE = `
const fs = require("node:fs");
const other = process.argv[1];
const own = process.env.CREDENTIALS_DIRECTORY;
const out = {};
const attempt = (label, f) => { try { f(); out[label] = "ok"; } catch (e) { out[label] = e.code; } };
attempt("list the shared ramfs", () => fs.readdirSync(${JSON.stringify(RUN_RAMFS)}));
attempt("watch the shared ramfs", () => fs.watch(${JSON.stringify(RUN_RAMFS)}).close());
attempt("list the other run's directory", () => fs.readdirSync(other));
attempt("read the other run's credential", () => fs.readFileSync(other + "/root_key"));
attempt("add a name to its own directory", () => fs.writeFileSync(own + "/planted", "x"));
attempt("add a name to the shared ramfs", () => fs.mkdirSync(${JSON.stringify(RUN_RAMFS)} + "/planted"));
attempt("link its file into the shared ramfs", () => fs.linkSync(own + "/u_key", ${JSON.stringify(RUN_RAMFS)} + "/l"));
attempt("rename its file", () => fs.renameSync(own + "/u_key", own + "/moved"));
process.stdout.write(JSON.stringify(out));
`;

/** The --user child: makes its own credential file writable and appends 16 MiB to it. */
const GROW = `
const fs = require("node:fs");
const file = process.env.CREDENTIALS_DIRECTORY + "/u_key";
let result = "ok";
try {
  fs.chmodSync(file, 0o600);
  const fd = fs.openSync(file, "a");
  for (let i = 0; i < 16; i++) fs.writeSync(fd, Buffer.alloc(1 << 20));
  fs.closeSync(fd);
} catch (e) { result = e.code; }
process.stdout.write(JSON.stringify({ result, size: fs.statSync(file).size, dir: process.env.CREDENTIALS_DIRECTORY }));
`;

/**
 * What the --user child leaves behind: holding its credential file open (which keeps the mount
 * alive after keyhold detaches it), it tries over and over to chmod the file through that
 * descriptor and reopen it for appending through /proc/self/fd (neither looks at the
 * directory's mode), on until 1000 tries after the run's directory is gone; it records the
 * outcome in argv[1]. It signals readiness by creating argv[2].
 */
const LINGER = `
const fs = require("node:fs");
const dir = process.env.CREDENTIALS_DIRECTORY;
const made = require("node:path").dirname(dir);
const fd = fs.openSync(dir + "/u_key", "r");
fs.writeFileSync(process.argv[2], "");
const deadline = Date.now() + 20000;
let won = "";
let after = 0;
while (won === "" && after < 1000 && Date.now() < deadline) {
  if (!fs.existsSync(made)) after++;
  try {
    fs.fchmodSync(fd, 0o600);
    const w = fs.openSync("/proc/self/fd/" + fd, "a");
    fs.writeSync(w, Buffer.alloc(1 << 20));
    fs.closeSync(w);
    won = "grew to " + fs.fstatSync(fd).size + " bytes";
  } catch {}
}
fs.writeFileSync(process.argv[1], won === "" ? "never" : won);
`;

/** Mount points at or below `dir`, from /proc/self/mountinfo. */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

describe("keyhold run: the shared ramfs against a --user child", () => {
  let s: Scratch;
  let user: TestUser;
  let work: string;

  before(async () => {
    s = await initWorld("keyhold-shared-ramfs-");
    await runCliOk(["set", "root_key"], { env: s.env, input: makeCanary("shared-root") });
    await runCliOk(["set", "u_key"], { env: s.env, input: makeCanary("shared-user") });
    user = createTestUser("ramfs");
    work = mkdtempSync(join(tmpdir(), "keyhold-shared-ramfs-"));
    chmodSync(work, 0o755);
  });
  after(() => {
    s?.cleanup();
    user?.remove();
    rmSync(work, { recursive: true, force: true });
  });

  it("cannot list, watch or enter another run's directory, nor add a name anywhere in the ramfs", async () => {
    const told = join(work, "other-dir");
    writeFileSync(told, "");
    const holder = startCli(
      ["run", "root_key", "--", "sh", "-c", `printf %s "$CREDENTIALS_DIRECTORY" > ${told}; sleep 30`],
      { env: s.env },
    );
    try {
      let other = "";
      for (let i = 0; i < 200 && other === ""; i++) {
        await sleep(50);
        other = readFileSync(told, "utf8");
      }
      assert.match(other, /^\/run\/keyhold\/ramfs\/credentials-/, "the other run started");
      // The worst case: the child was told the other directory's name.
      chownSync(told, user.uid, user.gid);
      const r = await runCliOk(
        ["run", "--user", user.name, "u_key", "--", process.execPath, "-e", PROBE, other],
        { env: s.env },
      );
      // Its own directory is a read-only mount of its own (EROFS before any permission check),
      // so a link from it into the shared ramfs crosses mounts (EXDEV).
      assert.deepEqual(JSON.parse(r.stdout), {
        "list the shared ramfs": "EACCES",
        "watch the shared ramfs": "EACCES",
        "list the other run's directory": "EACCES",
        "read the other run's credential": "EACCES",
        "add a name to its own directory": "EROFS",
        "add a name to the shared ramfs": "EACCES",
        "link its file into the shared ramfs": "EXDEV",
        "rename its file": "EROFS",
      });
    } finally {
      holder.child.kill("SIGTERM");
      await holder.result;
    }
  });

  it("cannot grow its credential file in the shared ramfs (no size limit, never swapped)", async () => {
    const r = await runCli(["run", "--user", user.name, "u_key", "--", process.execPath, "-e", GROW], {
      env: s.env,
    });
    assert.equal(r.code, 0, r.stderr);
    const grown = JSON.parse(r.stdout) as { result: string; size: number; dir: string };
    assert.ok(
      grown.size < 1 << 20,
      `the child grew its credential file to ${grown.size} bytes (${grown.result})`,
    );
    assert.equal(grown.result, "EROFS");
    assert.match(grown.dir, /^\/run\/keyhold\/ramfs\/credentials-/);
    assert.equal(existsSync(dirname(grown.dir)), false, "the run's directory is removed");
    assert.deepEqual(mountsUnder(dirname(grown.dir)), [], "and its mount with it");
  });

  it("cannot grow its file through a process it leaves behind while keyhold removes the directory", async () => {
    const own = mkdtempSync(join(work, "linger-"));
    chownSync(own, user.uid, user.gid);
    const outcome = join(own, "outcome");
    const ready = join(own, "ready");
    const r = await runCli(
      [
        "run",
        "--user",
        user.name,
        "u_key",
        "--",
        "sh",
        "-c",
        `${process.execPath} -e '${LINGER}' ${outcome} ${ready} >/dev/null 2>&1 & while [ ! -e ${ready} ]; do sleep 0.05; done; echo "$CREDENTIALS_DIRECTORY"`,
      ],
      { env: s.env },
    );
    assert.equal(r.code, 0, r.stderr);
    let result = "";
    for (let i = 0; i < 600 && result === ""; i++) {
      await sleep(50);
      if (existsSync(outcome)) result = readFileSync(outcome, "utf8");
    }
    assert.equal(result, "never", "the leftover process chmodded and appended to its file");
    assert.equal(existsSync(dirname(r.stdout.trim())), false, "the run's directory is removed");
  });

  it("a --user run's directory left by a keyhold killed with SIGKILL is swept, mount and all", async () => {
    const started = startCli(
      [
        "run",
        "--user",
        user.name,
        "u_key",
        "--",
        "sh",
        "-c",
        'echo "$$ $CREDENTIALS_DIRECTORY"; exec sleep 30',
      ],
      { env: s.env },
    );
    const [childPid, dir] = await new Promise<[number, string]>((resolve, reject) => {
      let text = "";
      started.child.stdout?.on("data", (c: Buffer) => {
        text += c.toString();
        if (text.includes("\n")) {
          const [pid, path] = (text.split("\n")[0] as string).split(" ");
          resolve([Number(pid), path as string]);
        }
      });
      started.child.once("exit", () =>
        reject(new Error(`keyhold run exited before the child started: ${text}`)),
      );
    });
    started.child.kill("SIGKILL");
    await started.exit;
    process.kill(childPid, "SIGKILL"); // the orphaned child: keyhold could forward nothing
    await started.result;
    const made = dirname(dir);
    assert.deepEqual(mountsUnder(made), [dir], "SIGKILL leaves the directory and its read-only mount");
    await runCliOk(["run", "root_key", "--", "true"], { env: s.env });
    assert.equal(existsSync(made), false, "the next run removed the orphaned directory");
    assert.deepEqual(mountsUnder(made), [], "and unmounted its ramfs");
  });
});
