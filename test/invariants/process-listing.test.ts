/**
 * No value in argv, environment or output: no credential value in any process's argv or environment. While `set`,
 * `import`, `import-env`, `rotate`, `get` and `run` work, a worker thread of this test reads
 * /proc/<pid>/cmdline and /proc/<pid>/environ of every process in a tight loop (as root it can
 * read them all: keyhold, systemd-creds, the child of run) and looks for the test's value.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { initWorld, runCliOk } from "../support/cli.js";
import { type SampleReport, startProcSampler } from "../support/proc-sampler.js";
import { makeCanary, type Scratch } from "../support/scratch.js";

const WATCH = ["keyhold.js", "systemd-creds", "CREDENTIALS_PROBE"];

/** Runs `work` while sampling every process for `value`; returns the sampler's report. */
async function sampled(value: string, work: () => Promise<void>): Promise<SampleReport> {
  const sampler = await startProcSampler([value], WATCH);
  try {
    await work();
  } catch (err) {
    await sampler.stop(); // never leave the worker spinning
    throw err;
  }
  return sampler.stop();
}

function assertClean(report: SampleReport, t: { diagnostic(message: string): void }): void {
  t.diagnostic(
    `${report.sweeps} sweeps of /proc; keyhold processes seen ${report.seen["keyhold.js"]}, ` +
      `systemd-creds processes seen ${report.seen["systemd-creds"]}`,
  );
  assert.ok(report.sweeps > 0, "the sampler ran");
  assert.ok((report.seen["keyhold.js"] ?? 0) > 0, "the sampler saw keyhold at work");
  assert.deepEqual(
    report.hits.map((h) => `${h.file} of pid ${h.pid} (${h.command})`),
    [],
    "the value appeared in a process's argv or environment",
  );
}

describe("no value in any process's argv or environment", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld("keyhold-proc-");
  });
  after(() => s.cleanup());

  it("the sampler finds a marker in another process's argv and environment (control)", async () => {
    const marker = makeCanary("control");
    const sampler = await startProcSampler([marker], WATCH);
    const child = spawn("sh", ["-c", "sleep 0.3", marker], { env: { ...s.env, PROBE: marker } });
    await new Promise((resolve) => child.on("exit", resolve));
    const report = await sampler.stop();
    const files = new Set(report.hits.filter((h) => h.pid === child.pid).map((h) => h.file));
    assert.deepEqual([...files].sort(), ["cmdline", "environ"]);
  });

  it("set", async (t) => {
    const value = makeCanary("proc-set");
    const report = await sampled(value, async () => {
      for (let i = 0; i < 3; i++) await runCliOk(["set", `set_${i}`], { env: s.env, input: value });
    });
    assertClean(report, t);
  });

  it("rotate", async (t) => {
    const value = makeCanary("proc-rotate");
    await runCliOk(["set", "rotated"], { env: s.env, input: makeCanary("first") });
    const report = await sampled(value, async () => {
      for (let i = 0; i < 3; i++)
        await runCliOk(["rotate", "rotated"], { env: s.env, input: `${value}-${i}` });
    });
    assertClean(report, t);
  });

  it("import and import-env", async (t) => {
    const value = makeCanary("proc-import");
    const report = await sampled(value, async () => {
      for (let i = 0; i < 3; i++) {
        const file = join(s.root, `plain-${i}.txt`);
        writeFileSync(file, `${value}\n`, { mode: 0o600 });
        await runCliOk(["import", `imported_${i}`, file, "--shred"], { env: s.env });
      }
      const envFile = join(s.root, "app.env");
      writeFileSync(envFile, `FIRST_TOKEN=${value}\nexport SECOND_TOKEN="${value}"\n`, { mode: 0o600 });
      await runCliOk(["import-env", envFile, "--shred"], { env: s.env });
    });
    assertClean(report, t);
  });

  it("run (keyhold, systemd-creds and the child)", async (t) => {
    const value = makeCanary("proc-run");
    await runCliOk(["set", "run_key"], { env: s.env, input: value });
    const report = await sampled(value, async () => {
      for (let i = 0; i < 2; i++) {
        // The child lives long enough to be sampled; it reads the file (never prints it).
        await runCliOk(
          [
            "run",
            "run_key",
            "--",
            "sh",
            "-c",
            'sleep 0.3; test -s "$CREDENTIALS_DIRECTORY/run_key"',
            "CREDENTIALS_PROBE",
          ],
          { env: s.env },
        );
      }
    });
    assertClean(report, t);
    assert.ok((report.seen.CREDENTIALS_PROBE ?? 0) > 0, "the sampler saw the child");
    assert.ok(report.credentialsDirectoryEnvironments > 0, "the sampler read the child's environment");
  });

  it("get (its stdout is the value; argv and environment still are not)", async (t) => {
    const value = makeCanary("proc-get");
    await runCliOk(["set", "get_key"], { env: s.env, input: value });
    const report = await sampled(value, async () => {
      for (let i = 0; i < 3; i++) {
        const r = await runCliOk(["get", "get_key"], { env: s.env });
        assert.equal(r.stdout, value);
      }
    });
    assertClean(report, t);
  });
});
