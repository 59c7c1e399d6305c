/**
 * No plaintext on disk, no value in argv, environment or output for `keyhold run`: the child gets the value only as a file in a private
 * $CREDENTIALS_DIRECTORY on ramfs (0400 files owned by the caller or --user; the directory the
 * caller's, 0500, or 0550 with the --user's group),
 * never in its environment; the directory is gone afterwards, also when keyhold is stopped by
 * SIGINT, SIGTERM or SIGHUP while the child runs; keyhold exits with the child's code.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { constants } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { processStartTime } from "../../src/durable/index.js";
import { initWorld, runCli, runCliOk, type StartedCli, startCli } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";
import { encodingsOf } from "../support/tree.js";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Where root's runs make their directories: one ramfs kept mounted there (src/credstore/run.ts). */
const RUN_RAMFS = "/run/keyhold/ramfs";
const RAMFS_MAGIC = 0x858458f6;

/** Whether `dir` is a mount point right now (a ramfs left mounted would hold the value). */
function mounted(dir: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === dir);
}

/**
 * What the child reports about its world, one `key=value` line each. The value itself never
 * leaves the child: it prints a hash of the file and its environment in base64.
 */
const INSPECT = [
  'd="$CREDENTIALS_DIRECTORY"',
  'echo "dir=$d"',
  'echo "uid=$(id -u)"',
  'stat -c "dirmode=%a %u %g" "$d"',
  'stat -c "filemode=%a %u %g" "$d/$1"',
  'stat -f -c "fstype=%T" "$d"',
  'echo "files=$(ls -A "$d" | tr "\\n" " ")"',
  'echo "sha=$(sha256sum < "$d/$1" | cut -d" " -f1)"',
  'echo "environ=$(base64 -w0 /proc/self/environ)"',
].join("\n");

function report(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

function environOf(base64: string | undefined): string[] {
  assert.ok(base64, "the child printed its environment");
  return Buffer.from(base64, "base64").toString("utf8").split("\0").filter(Boolean);
}

describe("keyhold run: what the child sees", () => {
  let s: Scratch;
  const value = makeCanary("run-child");
  const other = makeCanary("run-other");

  before(async () => {
    s = await initWorld("keyhold-run-");
    await runCliOk(["set", "api_key"], { env: s.env, input: value });
    await runCliOk(["set", "not_requested"], { env: s.env, input: other });
  });
  after(() => s.cleanup());

  it("keyhold and the command it starts keep their memory out of core dumps", async () => {
    // The command's parent is keyhold itself (no shell in between): both filters must be 0.
    const r = await runCliOk(
      ["run", "api_key", "--", "sh", "-c", 'cat "/proc/$PPID/coredump_filter" /proc/self/coredump_filter'],
      { env: s.env },
    );
    assert.deepEqual(r.stdout.trim().split("\n"), ["00000000", "00000000"]);
  });

  it("gets the value only as a 0400 file in a 0500 ramfs directory owned by the caller", async () => {
    const env = { ...s.env, INHERITED_MARKER: "kept" };
    const r = await runCliOk(["run", "api_key", "--", "sh", "-c", INSPECT, "inspect", "api_key"], { env });
    const seen = report(r.stdout);
    const dir = seen.get("dir") as string;
    assert.match(dir, /^\/run\/keyhold\/ramfs\/credentials-\d+\.\d+-/);
    assert.equal(seen.get("uid"), "0");
    assert.equal(seen.get("dirmode"), "500 0 0");
    assert.equal(seen.get("filemode"), "400 0 0");
    assert.equal(seen.get("fstype"), "ramfs");
    assert.equal(seen.get("files"), "api_key ", "only the requested credential is there");
    assert.equal(seen.get("sha"), sha256(value), "the file holds the value");

    const environ = environOf(seen.get("environ"));
    assert.ok(environ.includes(`CREDENTIALS_DIRECTORY=${dir}`));
    assert.ok(environ.includes("INHERITED_MARKER=kept"), "the caller's environment is passed on");
    assert.ok(!environ.some((e) => e.startsWith("SYSTEMD_CREDENTIAL_SECRET=")), "no pointer to the host key");
    for (const form of [...encodingsOf(value), ...encodingsOf(other)]) {
      assert.ok(!environ.some((e) => e.includes(form)), "a value reached the environment");
    }
    for (const form of encodingsOf(value)) {
      assert.ok(!r.stdout.includes(form) && !r.stderr.includes(form), "keyhold printed the value");
    }
    assert.equal(existsSync(dir), false, "the directory is gone afterwards");
    assert.equal(mounted(dir), false, "no mount of its own: it lives in the shared ramfs");
  });

  it("root's runs share one ramfs, mounted once: root's, 0711, never stacked by concurrent runs", async () => {
    const runs = await Promise.all(
      Array.from({ length: 4 }, () =>
        runCliOk(["run", "api_key", "--", "sh", "-c", 'stat -f -c "%T" "$CREDENTIALS_DIRECTORY"'], {
          env: s.env,
        }),
      ),
    );
    for (const r of runs) assert.equal(r.stdout.trim(), "ramfs");
    const mounts = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((line) => line.split(" ")[4] === RUN_RAMFS);
    assert.equal(mounts.length, 1, `one mount at ${RUN_RAMFS}: ${mounts.join(" | ")}`);
    assert.match(mounts[0] ?? "", / - ramfs ramfs rw,mode=711$/);
    assert.deepEqual(
      readdirSync(RUN_RAMFS).filter((e) => e.startsWith("credentials-") && e.includes(`-${process.pid}.`)),
      [],
    );
  });

  it("NAME_FILE variables with --file-vars point into the directory, still without the value", async () => {
    const r = await runCliOk(
      [
        "run",
        "api_key",
        "--file-vars",
        "--",
        "sh",
        "-c",
        'echo "file=$API_KEY_FILE"; echo "environ=$(base64 -w0 /proc/self/environ)"',
      ],
      { env: s.env },
    );
    const seen = report(r.stdout);
    assert.match(seen.get("file") ?? "", /^\/run\/keyhold\/ramfs\/credentials-\d+\.\d+-[^/]+\/api_key$/);
    const environ = environOf(seen.get("environ"));
    for (const form of encodingsOf(value)) assert.ok(!environ.some((e) => e.includes(form)));
  });

  it("with --user, the file belongs to that user, the directory to root and that user's group", async () => {
    const r = await runCli(
      ["run", "--user", "nobody", "api_key", "--", "sh", "-c", INSPECT, "inspect", "api_key"],
      {
        env: s.env,
      },
    );
    const seen = report(r.stdout);
    assert.equal(seen.get("uid"), "65534", "the child runs as nobody");
    assert.equal(
      seen.get("dirmode"),
      "550 0 65534",
      `the child cannot reach its directory: ${r.stderr.trim()}`,
    );
    assert.equal(seen.get("filemode"), "400 65534 65534");
    assert.equal(seen.get("sha"), sha256(value), "the child can read its credential");
    assert.equal(r.code, 0, r.stderr);
  });

  it("exits with the child's code", async () => {
    assert.equal((await runCli(["run", "api_key", "--", "sh", "-c", "exit 7"], { env: s.env })).code, 7);
    assert.equal((await runCli(["run", "api_key", "--", "false"], { env: s.env })).code, 1);
    assert.equal((await runCli(["run", "api_key", "--", "true"], { env: s.env })).code, 0);
    // A child killed by a signal: 128 + the signal number, as a shell reports it.
    const killed = await runCli(["run", "api_key", "--", "sh", "-c", "kill -KILL $$"], { env: s.env });
    assert.equal(killed.code, 128 + constants.signals.SIGKILL);
  });

  it("leaves no directory when the command cannot start or a credential cannot be decrypted", async () => {
    const cases: { args: string[]; exit: number }[] = [
      { args: ["run", "api_key", "--", "/nonexistent/command"], exit: 2 },
      { args: ["run", "api_key,missing_one", "--", "true"], exit: 1 },
      { args: ["run", "api_key", "--", "sh", "-c", "exit 0"], exit: 0 },
    ];
    for (const c of cases) {
      const started = startCli(c.args, { env: s.env });
      const pid = started.child.pid as number;
      const r = await started.result;
      assert.equal(r.code, c.exit, `${c.args.join(" ")}: ${r.stderr}`);
      const left = ["/run/keyhold", RUN_RAMFS]
        .flatMap((parent) => (existsSync(parent) ? readdirSync(parent) : []))
        .filter((d) => /^credentials-([0-9]+)[.-]/.exec(d)?.[1] === String(pid));
      assert.deepEqual(left, [], `keyhold ${c.args.join(" ")} left its credential directory`);
      for (const form of encodingsOf(value)) assert.ok(!r.stdout.includes(form) && !r.stderr.includes(form));
    }
  });

  /**
   * Starts `keyhold run api_key -- sh -c '…; exec sleep 30'` and waits until the child has
   * printed its pid and $CREDENTIALS_DIRECTORY (so keyhold has made the directory and started it).
   */
  async function startHolding(): Promise<{ started: StartedCli; childPid: number; dir: string }> {
    const started = startCli(
      ["run", "api_key", "--", "sh", "-c", 'echo "$$ $CREDENTIALS_DIRECTORY"; exec sleep 30'],
      {
        env: s.env,
      },
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
    return { started, childPid, dir };
  }

  function killQuietly(pid: number): void {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }

  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    it(`removes the directory when keyhold gets ${signal} while the child runs`, async () => {
      const { started, childPid, dir } = await startHolding();
      await sleep(300); // the steady state: keyhold waiting for its child
      assert.ok(existsSync(`${dir}/api_key`), "the credential is in place while the child runs");
      assert.equal(statfsSync(dir).type, RAMFS_MAGIC, "on ramfs");
      started.child.kill(signal);
      const exit = await started.exit;
      killQuietly(childPid); // only matters if keyhold failed to pass the signal on
      const r = await started.result;
      assert.equal(
        exit.code,
        128 + constants.signals[signal],
        `keyhold exits with the child's status: ${r.stderr}`,
      );
      assert.equal(existsSync(dir), false, "the directory is gone");
      assert.equal(mounted(dir), false, "nothing is left mounted there");
      for (const form of encodingsOf(value)) assert.ok(!r.stdout.includes(form) && !r.stderr.includes(form));
    });
  }

  it("removes the directory also when the signal comes the moment the child has started (30 trials)", async () => {
    const failures: string[] = [];
    for (let trial = 0; trial < 30; trial++) {
      const signal = (["SIGINT", "SIGTERM", "SIGHUP"] as const)[trial % 3] as NodeJS.Signals;
      const { started, childPid, dir } = await startHolding();
      started.child.kill(signal);
      const exit = await started.exit;
      killQuietly(childPid);
      await started.result;
      const left = existsSync(dir);
      if (left || exit.code === null) {
        failures.push(
          `trial ${trial}: ${signal} -> exit ${exit.code ?? exit.signal}, directory ${left ? "left behind" : "gone"}`,
        );
      }
      if (left) await runCliOk(["run", "api_key", "--", "true"], { env: s.env }); // sweeps it
    }
    assert.deepEqual(failures, [], "keyhold died of the signal and left the credential directory");
  });

  it("a directory left by a keyhold killed with SIGKILL is swept by the next run", async () => {
    const { started, childPid, dir } = await startHolding();
    started.child.kill("SIGKILL");
    await started.exit;
    killQuietly(childPid); // the orphaned child: keyhold could forward nothing
    await started.result;
    assert.equal(existsSync(dir), true, "SIGKILL leaves the directory (nothing can run after it)");
    await runCliOk(["run", "api_key", "--", "true"], { env: s.env });
    assert.equal(existsSync(dir), false, "the next run removed the orphaned directory");
    assert.equal(mounted(dir), false, "and unmounted it");
  });

  for (const parent of ["/run/keyhold", RUN_RAMFS])
    it(`a leftover in ${parent} whose pid now belongs to another process is swept; a live owner's is kept`, async () => {
      // Names carry pid.starttime: this test runner's pid with another start time is what a dead
      // keyhold's directory looks like once its pid has been reused. /run/keyhold itself holds the
      // directories of keyholds from before the shared ramfs (each its own mount).
      const own = processStartTime(process.pid);
      assert.ok(own, "/proc/self/stat gives a start time");
      const reused = join(parent, `credentials-${process.pid}.${BigInt(own) + 1n}-Ab12Cd`);
      const live = join(parent, `credentials-${process.pid}.${own}-Ef34Gh`);
      const legacy = join(parent, `credentials-${process.pid}-Ij56Kl`);
      for (const d of [reused, live, legacy]) {
        mkdirSync(d, { recursive: true, mode: 0o700 });
        writeFileSync(join(d, "api_key"), "not a real key");
      }
      try {
        await runCliOk(["run", "api_key", "--", "true"], { env: s.env });
        assert.equal(existsSync(reused), false, "the reused pid's leftover is gone");
        assert.equal(existsSync(live), true, "a live keyhold's directory stays");
        assert.equal(existsSync(legacy), true, "a pid-only name of a live pid stays");
      } finally {
        for (const d of [reused, live, legacy]) rmSync(d, { recursive: true, force: true });
      }
    });
});
