/**
 * `keyhold run` against the users it serves or shares the machine with, each a real account made
 * for the test:
 * - a --user child that swaps a directory of its $CREDENTIALS_DIRECTORY with a symlink while root
 *   removes it must not make root delete anything outside (the victim directory survives), and
 *   no more can a user whose leftover directory root's sweep removes;
 * - another user who takes /dev/shm/keyhold-<uid> first cannot stop a non-root run.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { processStartTime } from "../../src/durable/index.js";
import { AS_NOBODY, checkoutUnreadableBy } from "../support/checkout.js";
import { initWorld, runCli, runCliOk } from "../support/cli.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";
import { createTestUser, type TestUser } from "../support/users.js";

const VICTIM_FILES = 3000;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function mounted(dir: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === dir);
}

/** A root-owned directory of root-owned files, as /etc/something would be: it must survive. */
function makeVictim(): string {
  const victim = mkdtempSync(join(tmpdir(), "keyhold-victim-"));
  chmodSync(victim, 0o755);
  for (let i = 0; i < VICTIM_FILES; i++) writeFileSync(join(victim, `f${i}`), "precious\n", { mode: 0o644 });
  return victim;
}

async function waitFor(path: string, seconds: number): Promise<boolean> {
  for (let i = 0; i < seconds * 20; i++) {
    if (existsSync(path)) return true;
    await sleep(50);
  }
  return false;
}

describe("keyhold run --user: a child that races root's removal", () => {
  let s: Scratch;
  let user: TestUser;
  let work: string;
  let racer: string;
  let state: string;
  const value = makeCanary("race");

  before(async () => {
    s = await initWorld("keyhold-race-");
    await runCliOk(["set", "api_key"], { env: s.env, input: value });
    user = createTestUser("race");
    // The user must be able to run the racer wherever the checkout lives.
    work = mkdtempSync(join(tmpdir(), "keyhold-racer-"));
    chmodSync(work, 0o755);
    racer = join(work, "swap-racer.mjs");
    copyFileSync(fileURLToPath(new URL("../support/swap-racer.js", import.meta.url)), racer);
    chmodSync(racer, 0o644);
  });
  after(() => {
    s.cleanup();
    user.remove();
    rmSync(work, { recursive: true, force: true });
  });

  function freshState(): string {
    state = mkdtempSync(join(work, "state-"));
    chownSync(state, user.uid, user.gid);
    return state;
  }

  it("cannot make root delete files through a swapped directory, and cannot add entries at all", async () => {
    const victim = makeVictim();
    const st = freshState();
    try {
      const r = await runCli(
        ["run", "--user", user.name, "api_key", "--", process.execPath, racer, "attack", victim, st],
        { env: s.env },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.ok(await waitFor(join(st, "done"), 30), "the racer stopped");
      const survivors = readdirSync(victim).length;
      assert.equal(
        survivors,
        VICTIM_FILES,
        `root deleted ${VICTIM_FILES - survivors} files of the victim directory`,
      );
      const attack = JSON.parse(readFileSync(join(st, "attack.json"), "utf8"));
      // Its directory is a read-only mount: EROFS comes before the permission checks (EPERM,
      // EACCES) that refuse the same to a directory of root's.
      assert.deepEqual(
        attack,
        { chmod: "EROFS", plant: "EROFS" },
        "the child may neither open up nor fill its directory",
      );
      for (const form of [value]) assert.ok(!r.stdout.includes(form) && !r.stderr.includes(form));
    } finally {
      rmSync(victim, { recursive: true, force: true });
    }
  });

  it("gets its file through its own uid and the directory through its group; the directory stays root's", async () => {
    const r = await runCliOk(
      [
        "run",
        "--user",
        user.name,
        "api_key",
        "--",
        "sh",
        "-c",
        'stat -c "dir=%a %u %g" "$CREDENTIALS_DIRECTORY"; stat -c "file=%a %u %g" "$CREDENTIALS_DIRECTORY/api_key"; ls "$CREDENTIALS_DIRECTORY"; sha256sum < "$CREDENTIALS_DIRECTORY/api_key"; echo "path=$CREDENTIALS_DIRECTORY"',
      ],
      { env: s.env },
    );
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines[0], `dir=550 0 ${user.gid}`);
    assert.equal(lines[1], `file=400 ${user.uid} ${user.gid}`);
    assert.equal(lines[2], "api_key");
    assert.match(lines[3] ?? "", new RegExp(`^${sha256(value)} `));
    const dir = (lines[4] ?? "").slice("path=".length);
    assert.equal(existsSync(dir), false, "the directory is gone afterwards");
    assert.equal(mounted(dir), false, "and unmounted");
  });

  it("a leftover directory the user owns (as an older keyhold left them) is swept without root walking it", async () => {
    const victim = makeVictim();
    const st = freshState();
    // A dead keyhold's directory: this runner's pid with another start time.
    const own = processStartTime(process.pid);
    assert.ok(own);
    mkdirSync("/run/keyhold", { recursive: true, mode: 0o711 });
    const leftover = join("/run/keyhold", `credentials-${process.pid}.${BigInt(own) + 7n}-race${user.uid}`);
    // Made and filled under a name no sweep takes, then given the leftover's name: a keyhold run
    // of another test file sweeps /run/keyhold too, and could take it away half-filled.
    const prepared = join("/run/keyhold", `.prepared-race${user.uid}-${process.pid}`);
    mkdirSync(prepared, { mode: 0o700 });
    chownSync(prepared, user.uid, user.gid);
    // The user fills its directory, then races the sweep that the next run does.
    execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { plant } from ${JSON.stringify(racer)}; plant(${JSON.stringify(prepared)}, ${JSON.stringify(victim)});`,
      ],
      { uid: user.uid, gid: user.gid, cwd: "/" },
    );
    renameSync(prepared, leftover);
    const race = spawn(process.execPath, [racer, "race", leftover, victim, st], {
      uid: user.uid,
      gid: user.gid,
      cwd: "/",
      stdio: "ignore",
    });
    try {
      assert.ok(await waitFor(join(st, "racing"), 10), "the racer runs");
      // Each run sweeps again while the racer goes on.
      for (let i = 0; i < 5; i++) await runCliOk(["run", "api_key", "--", "true"], { env: s.env });
      race.kill("SIGKILL");
      const survivors = readdirSync(victim).length;
      assert.equal(
        survivors,
        VICTIM_FILES,
        `root deleted ${VICTIM_FILES - survivors} files of the victim directory`,
      );
      await runCliOk(["run", "api_key", "--", "true"], { env: s.env });
      assert.equal(
        existsSync(leftover),
        false,
        "once the racer stopped, the next sweep removed the leftover",
      );
    } finally {
      race.kill("SIGKILL");
      rmSync(leftover, { recursive: true, force: true });
      rmSync(prepared, { recursive: true, force: true });
      rmSync(victim, { recursive: true, force: true });
    }
  });
});

// These run keyhold itself as the test user: it must be able to read the checkout.
describe("keyhold run as a user without a runtime directory", {
  skip: checkoutUnreadableBy(AS_NOBODY) ?? false,
}, () => {
  let s: Scratch;
  let owner: TestUser;
  let squatter: TestUser;
  const value = makeCanary("shm");
  let asOwner: { env: NodeJS.ProcessEnv; prefix: readonly string[] };

  before(async () => {
    owner = createTestUser("own");
    squatter = createTestUser("squat");
    s = makeScratch("keyhold-shm-");
    // The whole scratch world belongs to the user: its store, its state and its host key.
    chmodSync(s.root, 0o755);
    chownSync(s.root, owner.uid, owner.gid);
    chownSync(join(s.root, "host"), owner.uid, owner.gid);
    const env = { ...s.env };
    delete env.XDG_RUNTIME_DIR;
    asOwner = { env, prefix: owner.prefix };
    await runCliOk(["init"], asOwner);
    await runCliOk(["set", "api_key"], { ...asOwner, input: value });
  });
  after(() => {
    s.cleanup();
    owner.remove();
    squatter.remove();
  });

  it("is not stopped by another user who made /dev/shm/keyhold-<uid> first", async () => {
    const taken = `/dev/shm/keyhold-${owner.uid}`;
    rmSync(taken, { recursive: true, force: true }); // uids are reused: whatever an earlier account left
    execFileSync("mkdir", ["-m", "0700", taken], { uid: squatter.uid, gid: squatter.gid });
    try {
      const r = await runCli(
        [
          "run",
          "api_key",
          "--",
          "sh",
          "-c",
          'echo "dir=$CREDENTIALS_DIRECTORY"; sha256sum < "$CREDENTIALS_DIRECTORY/api_key"',
        ],
        asOwner,
      );
      assert.equal(r.code, 0, r.stderr);
      const [dirLine, sumLine] = r.stdout.trim().split("\n");
      const dir = (dirLine ?? "").slice("dir=".length);
      assert.match(dir, new RegExp(`^/dev/shm/keyhold-${owner.uid}-credentials-`));
      assert.match(sumLine ?? "", new RegExp(`^${sha256(value)} `));
      assert.equal(existsSync(dir), false, "the directory is gone afterwards");
      assert.equal(lstatSync(taken).uid, squatter.uid, "the other user's directory was left alone");
      assert.ok(!r.stdout.includes(value) && !r.stderr.includes(value));
    } finally {
      rmSync(taken, { recursive: true, force: true });
    }
  });

  it("prefers /run/user/<uid> when it exists", async () => {
    const runtime = `/run/user/${owner.uid}`;
    mkdirSync(runtime, { recursive: true, mode: 0o700 });
    execFileSync("mount", [
      "-t",
      "tmpfs",
      "-o",
      `mode=0700,uid=${owner.uid},gid=${owner.gid}`,
      "tmpfs",
      runtime,
    ]);
    try {
      const r = await runCliOk(
        ["run", "api_key", "--", "sh", "-c", 'echo "$CREDENTIALS_DIRECTORY"'],
        asOwner,
      );
      assert.match(r.stdout.trim(), new RegExp(`^${runtime}/keyhold-${owner.uid}/credentials-`));
    } finally {
      execFileSync("umount", [runtime]);
      rmSync(runtime, { recursive: true, force: true });
    }
  });
});
