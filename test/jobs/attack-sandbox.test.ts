import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  watch,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openDirectory } from "../../src/jobs/logs.js";
import { parseSandboxReport, type SandboxPlan, sandboxCommand } from "../../src/jobs/sandbox.js";
import { makeCanary } from "../support/scratch.js";
import { call, finalRun, follow, outputOf, startServer, type TestServer, waitFor } from "./support.js";

/**
 * Attacks on the run's namespace setup by a developer in the socket group who controls the
 * repository, the committed code and the names under outputs/ (docs/jobserver.md, "Threat model":
 * "A job cannot read another job's credentials").
 *
 * The run's init binds a `keep` directory (the outputs inside a committed copy) from its live
 * path after hiding the server's paths, but before it leaves the stage directory it chdir'ed
 * into. The outputs name is checked (openRunLog, no symbolic link) before the init runs, and not
 * again: the developer, woken by inotify when the run's log appears in outputs/logs, swaps
 * outputs for a link to `/proc/self/cwd/../..`. The init resolves it from its cwd, the stage
 * mount: `..` from a mount's root climbs to where it is mounted, the run's directory in the
 * runtime file system, *under* the tmpfs that hides the runtime directory, and `..` again
 * reaches `runs/`, on which nothing is mounted. The job gets every concurrent run's directory,
 * credentials included, bound writable at its outputs path.
 *
 * Now the init never follows a link on a developer's path, binds a kept directory only as the
 * very one the server opened (its descriptor handed over), never stands in its stage, and
 * `runs/` has a hiding mount of its own (src/jobs/sandbox.ts).
 */

const RUNTIME = mkdtempSync("/dev/shm/keyhold-attack-rt-");

describe("attack: outputs swapped for a link while the run's init lays out its mounts", () => {
  const victimKey = makeCanary("victim");
  let s: TestServer;
  let repo: string;
  const git = (dir: string, ...args: string[]) =>
    execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.org", ...args], {
      encoding: "utf8",
      stdio: "pipe",
    });

  before(async () => {
    s = await startServer({
      credentials: { victim_key: victimKey },
      // As under the unit: per-run credential directories in $RUNTIME_DIRECTORY/runs.
      env: { RUNTIME_DIRECTORY: RUNTIME },
      config: ({ root, outputs }) => ({
        concurrency: 2,
        killGraceSeconds: 1,
        jobs: {
          victim: {
            argv: ["/bin/sh", "-c", "sleep 20"],
            cwd: root,
            credentials: ["victim_key"],
            outputDir: outputs,
          },
          thief: {
            argv: ["/bin/sh", "thief.sh"],
            cwd: join(root, "repo"),
            outputDir: join(root, "repo", "outputs"),
            codePolicy: "committed",
          },
        },
      }),
    });
    repo = join(s.root, "repo");
    mkdirSync(join(repo, "outputs", "logs"), { recursive: true, mode: 0o755 });
    git(repo, "init", "-q");
    // The committed job: reads whatever run directories its outputs show, the key reversed so
    // the scrubber does not know it.
    writeFileSync(
      join(repo, "thief.sh"),
      'for f in outputs/run-*/credentials-*/*; do [ -f "$f" ] && echo "stolen:$(rev < "$f")"; done; true\n',
    );
    writeFileSync(join(repo, ".gitignore"), "outputs/\n");
    git(repo, "add", "-A");
    git(repo, "commit", "-qm", "thief");
  });

  after(async () => {
    await s.cleanup();
    rmSync(RUNTIME, { recursive: true, force: true });
  });

  test("a committed job of one developer reads the credentials of another job running at the same time", async () => {
    const victim = await call(s.socket, "POST", "/v1/jobs/victim/runs", "{}", {
      "Content-Type": "application/json",
    });
    assert.equal(victim.status, 202, victim.text);
    const victimId = (JSON.parse(victim.text) as { run: { id: string } }).run.id;
    await waitFor("the victim to run", async () => {
      const r = await call(s.socket, "GET", `/v1/runs/${victimId}`);
      return (JSON.parse(r.text) as { run: { state: string } }).run.state === "running" ? true : undefined;
    });

    const outputs = join(repo, "outputs");
    let swapped = false;
    const watcher = watch(join(outputs, "logs"), (_event, name) => {
      if (swapped || !String(name).endsWith(".log")) return;
      swapped = true;
      renameSync(outputs, `${outputs}.real`);
      symlinkSync("/proc/self/cwd/../..", outputs);
    });
    let text = "";
    let run: Record<string, unknown> = {};
    try {
      const { events } = await follow(s.socket, "thief");
      text = outputOf(events);
      run = finalRun(events);
    } finally {
      watcher.close();
      if (swapped) {
        rmSync(outputs);
        renameSync(`${outputs}.real`, outputs);
      }
      await call(s.socket, "DELETE", `/v1/runs/${victimId}`).catch(() => undefined);
    }
    const stolen = [...text.matchAll(/^stolen:(.*)$/gm)].map((m) => [...(m[1] as string)].reverse().join(""));
    assert.ok(!stolen.includes(victimKey), "the thief read another job's key (reversed, past the scrubber)");
    assert.ok(swapped, "the developer swapped outputs for the link");
    assert.doesNotMatch(text, /stolen:/);
    // Refused by the server's walk or by the init's, whichever the swap came before; a swap
    // after the outputs were bound changes nothing the run sees.
    if (run.state !== "succeeded")
      assert.equal((run.error as { code: string } | null)?.code, "ISOLATION_FAILED", JSON.stringify(run));
  });
});

/**
 * The same swap made exactly between the server's walk and the init's: the run's init (the real
 * perl program under the real unshare), given the descriptor of the outputs the server opened,
 * finds a link or another directory at the path.
 */
describe("attack: a kept directory swapped after the server opened it", () => {
  const victimKey = makeCanary("kept");
  let root: string;
  let repo: string;
  let outputs: string;
  let runtime: string;

  before(() => {
    root = mkdtempSync("/dev/shm/keyhold-attack-keep-");
    runtime = join(root, "runtime");
    // Another run's credentials, in the runtime directory next to this run's stage.
    mkdirSync(join(runtime, "runs", "run-victim", "credentials-x"), { recursive: true });
    writeFileSync(join(runtime, "runs", "run-victim", "credentials-x", "key"), victimKey, { mode: 0o400 });
    // The commit's copy, with the mount point of the outputs inside it.
    mkdirSync(join(root, "state", "tree", "outputs"), { recursive: true });
    repo = join(root, "repo");
    outputs = join(repo, "outputs");
  });

  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  /** Runs `script` from the committed copy with the outputs the server opened before `swap`. */
  async function runSwapped(
    swap: () => void,
    script: string,
  ): Promise<{ report: ReturnType<typeof parseSandboxReport>; stdout: string }> {
    rmSync(repo, { recursive: true, force: true });
    mkdirSync(outputs, { recursive: true });
    writeFileSync(join(outputs, "mine"), "the developer's own output\n");
    const stage = join(runtime, "runs", "run-thief", "stage");
    rmSync(join(runtime, "runs", "run-thief"), { recursive: true, force: true });
    mkdirSync(stage, { recursive: true, mode: 0o700 });
    const fd = await openDirectory(outputs, false);
    try {
      swap();
      const plan: SandboxPlan = {
        stage,
        hide: [runtime, join(runtime, "runs"), join(root, "state")],
        provide: [{ source: join(root, "state", "tree"), target: repo, readOnly: true }],
        keep: [outputs],
        held: { [outputs]: 4 },
        scratch: [],
        cwd: repo,
      };
      const cmd = sandboxCommand(
        plan,
        ["/bin/sh", "-c", script],
        { PATH: "/usr/bin:/bin" },
        {
          uid: process.getuid?.() ?? 0,
          gid: process.getgid?.() ?? 0,
        },
      );
      const r = spawnSync(cmd.command, cmd.args, {
        env: cmd.env,
        cwd: "/",
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe", "pipe", fd],
        timeout: 60_000,
      });
      return { report: parseSandboxReport(String(r.output[3] ?? "")), stdout: r.stdout };
    } finally {
      closeSync(fd);
    }
  }

  const THIEF = "cat outputs/run-*/credentials-*/* 2>/dev/null | rev; ls outputs";

  test("unswapped, the job writes to the outputs the server opened (the control)", async () => {
    const { report, stdout } = await runSwapped(
      () => undefined,
      `${THIEF}; grep -c ' ${runtime}/runs ' /proc/self/mountinfo`,
    );
    assert.deepEqual(report, { kind: "exit", code: 0 });
    assert.equal(stdout, "mine\n1\n", "the outputs are bound; runs/ has a hiding mount of its own");
  });

  test("outputs swapped for a link to /proc/self/cwd/../.. is refused, nothing followed", async () => {
    const { report, stdout } = await runSwapped(() => {
      renameSync(outputs, `${outputs}.real`);
      symlinkSync("/proc/self/cwd/../..", outputs);
    }, THIEF);
    assert.deepEqual(report, { kind: "setup", errno: "ENOTDIR", what: `keep ${outputs}` });
    assert.ok(!stdout.includes([...victimKey].reverse().join("")), stdout);
  });

  test("outputs swapped for another directory is refused: it is not the one the server opened", async () => {
    const { report, stdout } = await runSwapped(() => {
      renameSync(outputs, `${outputs}.real`);
      mkdirSync(outputs);
      writeFileSync(join(outputs, "planted"), "");
    }, THIEF);
    assert.deepEqual(report, { kind: "setup", errno: "ESTALE", what: `keep ${outputs}` });
    assert.equal(stdout, "");
  });
});
