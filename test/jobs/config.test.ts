import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadJobServerConfig, parseJobServerConfig } from "../../src/jobs/index.js";
import { isSecretError } from "../../src/secret/index.js";

const job = { argv: ["/bin/true"], cwd: "/srv/project", outputDir: "/srv/project/outputs" };
const withJob = (extra: Record<string, unknown>, top: Record<string, unknown> = {}) => ({
  ...top,
  jobs: { report: { ...job, ...extra } },
});

test("a full configuration is accepted with its values", () => {
  const config = parseJobServerConfig({
    stateDir: "/var/lib/keyhold-jobs",
    concurrency: 4,
    queueLimit: 10,
    killGraceSeconds: 2,
    stopGraceSeconds: 20,
    environment: { PATH: "/usr/bin:/bin", HOME: "/tmp", LANG: "C.UTF-8" },
    http: { headersTimeoutMs: 2000, requestTimeoutMs: 5000, maxConnections: 50 },
    jobs: {
      report: {
        argv: ["/usr/bin/python3", "report.py", "--day={day}"],
        cwd: "/srv/project",
        credentials: ["my_api_key"],
        timeoutSeconds: 60,
        outputDir: "/srv/project/outputs",
        params: {
          day: { pattern: "[0-9]{4}-[0-9]{2}-[0-9]{2}" },
          mode: { pattern: "fast|slow", env: "MODE", default: "fast" },
        },
        codePolicy: "committed",
      },
    },
  });
  const report = config.jobs.get("report");
  assert.ok(report);
  assert.equal(config.concurrency, 4);
  assert.equal(report.codePolicy, "committed");
  assert.deepEqual(report.credentials, ["my_api_key"]);
  assert.equal(report.params.get("mode")?.env, "MODE");
  assert.ok(report.params.get("day")?.pattern.test("2026-11-23"));
  assert.ok(!report.params.get("day")?.pattern.test("2026-11-23; rm -rf /"), "patterns are anchored");
});

test("defaults", () => {
  const config = parseJobServerConfig(withJob({}));
  assert.equal(config.concurrency, 2);
  assert.equal(config.queueLimit, 1000);
  assert.equal(config.jobs.get("report")?.timeoutSeconds, 600);
  assert.equal(config.jobs.get("report")?.codePolicy, "any");
  assert.deepEqual(config.environment, {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: "/tmp",
    LANG: "C.UTF-8",
  });
});

const refused: [string, unknown, string, RegExp][] = [
  ["not an object", [], "CONFIG_INVALID", /file: must be an object/],
  ["no jobs", { jobs: {} }, "CONFIG_INVALID", /declares no job/],
  [
    "unknown top-level key",
    { ...withJob({}), concurency: 2 },
    "CONFIG_UNKNOWN_KEY",
    /unknown key "concurency"/,
  ],
  [
    "unknown job key",
    withJob({ timeoutSecond: 5 }),
    "CONFIG_UNKNOWN_KEY",
    /jobs\.report: unknown key "timeoutSecond"/,
  ],
  [
    "unknown param key",
    withJob({ params: { day: { pattern: "x", regex: "y" } }, argv: ["/bin/echo", "{day}"] }),
    "CONFIG_UNKNOWN_KEY",
    /unknown key "regex"/,
  ],
  ["unknown http key", { ...withJob({}), http: { timeout: 1 } }, "CONFIG_UNKNOWN_KEY", /http: unknown key/],
  [
    "unknown environment key",
    { ...withJob({}), environment: { SHELL: "/bin/sh" } },
    "CONFIG_UNKNOWN_KEY",
    /environment: unknown key "SHELL"/,
  ],
  [
    "argv a string (shell line)",
    withJob({ argv: "/bin/true --x" }),
    "CONFIG_INVALID",
    /argv: must be a non-empty array/,
  ],
  ["argv empty", withJob({ argv: [] }), "CONFIG_INVALID", /argv: must be a non-empty array/],
  ["argv with a number", withJob({ argv: ["/bin/echo", 3] }), "CONFIG_INVALID", /argv\[1\]/],
  ["argv[0] empty", withJob({ argv: [""] }), "CONFIG_INVALID", /argv\[0\]: must name a program/],
  ["relative cwd", withJob({ cwd: "project" }), "CONFIG_INVALID", /cwd: must be an absolute path/],
  ["cwd with ..", withJob({ cwd: "/srv/../etc" }), "CONFIG_INVALID", /cwd: must be a normalised path/],
  [
    "missing outputDir",
    { jobs: { report: { argv: ["/bin/true"], cwd: "/srv" } } },
    "CONFIG_INVALID",
    /outputDir: must be a non-empty string/,
  ],
  ["bad job name", { jobs: { "Bad Name": job } }, "CONFIG_INVALID", /job names are/],
  [
    "bad credential name",
    withJob({ credentials: ["a/b"] }),
    "CONFIG_INVALID",
    /credentials\[0\]: name may not contain "\/"/,
  ],
  ["credential twice", withJob({ credentials: ["k", "k"] }), "CONFIG_INVALID", /lists a name twice/],
  [
    "credentials not an array",
    withJob({ credentials: "k" }),
    "CONFIG_INVALID",
    /credentials: must be an array/,
  ],
  [
    "negative timeout",
    withJob({ timeoutSeconds: -1 }),
    "CONFIG_INVALID",
    /timeoutSeconds: must be a number greater than 0/,
  ],
  ["timeout as text", withJob({ timeoutSeconds: "60" }), "CONFIG_INVALID", /timeoutSeconds/],
  [
    "unknown code policy",
    withJob({ codePolicy: "signed" }),
    "CONFIG_INVALID",
    /codePolicy: must be "any" or "committed"/,
  ],
  [
    "concurrency 0",
    { ...withJob({}), concurrency: 0 },
    "CONFIG_INVALID",
    /concurrency: must be an integer from 1/,
  ],
  ["concurrency 1.5", { ...withJob({}), concurrency: 1.5 }, "CONFIG_INVALID", /concurrency/],
  [
    "placeholder without param",
    withJob({ argv: ["/bin/echo", "{day}"] }),
    "CONFIG_INVALID",
    /placeholder \{day\} names no declared parameter/,
  ],
  [
    "param never used",
    withJob({ params: { day: { pattern: "x" } } }),
    "CONFIG_INVALID",
    /neither an argv placeholder nor given an env name/,
  ],
  [
    "param bad regex",
    withJob({ argv: ["/bin/echo", "{day}"], params: { day: { pattern: "([" } } }),
    "CONFIG_INVALID",
    /pattern: is not a valid regular expression/,
  ],
  [
    "param bad name",
    withJob({ params: { Day: { pattern: "x", env: "DAY" } } }),
    "CONFIG_INVALID",
    /parameter names are/,
  ],
  [
    "param env LD_PRELOAD",
    withJob({ params: { lib: { pattern: ".*", env: "LD_PRELOAD" } } }),
    "CONFIG_INVALID",
    /LD_PRELOAD is reserved/,
  ],
  [
    "param env PATH",
    withJob({ params: { p: { pattern: ".*", env: "PATH" } } }),
    "CONFIG_INVALID",
    /PATH is reserved/,
  ],
  [
    "param env CREDENTIALS_DIRECTORY",
    withJob({ params: { p: { pattern: ".*", env: "CREDENTIALS_DIRECTORY" } } }),
    "CONFIG_INVALID",
    /reserved/,
  ],
  [
    "param env lower case",
    withJob({ params: { p: { pattern: ".*", env: "day" } } }),
    "CONFIG_INVALID",
    /must be an environment variable name/,
  ],
  [
    "two params one env",
    withJob({ params: { a: { pattern: "x", env: "X" }, b: { pattern: "y", env: "X" } } }),
    "CONFIG_INVALID",
    /X is used by two parameters/,
  ],
  [
    "default not matching",
    withJob({ params: { d: { pattern: "[0-9]+", env: "D", default: "abc" } } }),
    "CONFIG_INVALID",
    /default: does not match the pattern/,
  ],
  [
    "headers timeout above request timeout",
    { ...withJob({}), http: { headersTimeoutMs: 9000, requestTimeoutMs: 1000 } },
    "CONFIG_INVALID",
    /must not be longer than/,
  ],
  [
    "relative HOME",
    { ...withJob({}), environment: { HOME: "tmp" } },
    "CONFIG_INVALID",
    /environment.HOME: must be an absolute path/,
  ],
];

for (const [what, input, code, message] of refused) {
  test(`refused: ${what}`, () => {
    assert.throws(
      () => parseJobServerConfig(input),
      (err: unknown) => {
        assert.ok(isSecretError(err), "a SecretError");
        assert.equal(err.code, code);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /\.$/, "no final period");
        return true;
      },
    );
  });
}

test("loading: a missing file, bad JSON and a good file", () => {
  const dir = mkdtempSync(join(tmpdir(), "keyhold-jobs-config-"));
  try {
    assert.throws(
      () => loadJobServerConfig(join(dir, "none.json")),
      (e: unknown) => isSecretError(e, "FILE_NOT_FOUND"),
    );
    writeFileSync(join(dir, "bad.json"), "{ jobs: ", { mode: 0o644 });
    assert.throws(
      () => loadJobServerConfig(join(dir, "bad.json")),
      (e: unknown) => isSecretError(e, "INVALID_FORMAT"),
    );
    writeFileSync(join(dir, "good.json"), JSON.stringify(withJob({})), { mode: 0o644 });
    assert.equal(loadJobServerConfig(join(dir, "good.json")).jobs.size, 1);
    // It decides what runs with the keys: nobody but its owner may be able to change it.
    for (const mode of [0o664, 0o646, 0o666]) {
      chmodSync(join(dir, "good.json"), mode);
      assert.throws(
        () => loadJobServerConfig(join(dir, "good.json")),
        (e: unknown) =>
          isSecretError(e, "CONFIG_INVALID") && /writable by group or others/.test((e as Error).message),
        mode.toString(8),
      );
    }
    chmodSync(join(dir, "good.json"), 0o644);
    // A FIFO would stall a reload for ever; a link to the file is fine (configuration tools place them).
    assert.equal(spawnSync("mkfifo", [join(dir, "fifo.json")]).status, 0);
    assert.throws(
      () => loadJobServerConfig(join(dir, "fifo.json")),
      (e: unknown) => isSecretError(e, "NOT_A_FILE"),
    );
    symlinkSync(join(dir, "good.json"), join(dir, "link.json"));
    assert.equal(loadJobServerConfig(join(dir, "link.json")).jobs.size, 1);
    writeFileSync(join(dir, "huge.json"), Buffer.alloc(1024 * 1024 + 1, 0x20), { mode: 0o600 });
    assert.throws(
      () => loadJobServerConfig(join(dir, "huge.json")),
      (e: unknown) => isSecretError(e, "TOO_LARGE"),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
