/**
 * The credstore commands as a user sees them: each case is a command, what it prints and how it
 * exits, against the real systemd-creds on a scratch store.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { currentSince, judge, versionTimes } from "../../src/app/rollout-usage.js";
import { readMeta } from "../../src/credstore/index.js";
import { CredentialStore } from "../../src/index.js";
import type { UnitState } from "../../src/systemd/usage.js";
import { firstErrorLine, initWorld, runCli, runCliOk } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";
import { encodingsOf } from "../support/tree.js";

/** A credential made with systemd-creds directly; it writes with the umask (0644), so tighten it like a careful admin. */
function encryptRaw(s: Scratch, args: string[], value: string, out: string): void {
  execFileSync("systemd-creds", ["encrypt", "--with-key=host", ...args, "-", out], {
    env: s.env,
    input: value,
  });
  chmodSync(out, 0o600);
}

describe("set, get, rotate, history, rollback, rm", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld();
  });
  after(() => s.cleanup());

  it("walks one credential through its life", async () => {
    const v1 = makeCanary("v1");
    const v2 = makeCanary("v2");
    const set = await runCliOk(["set", "life_key"], { env: s.env, input: `${v1}\n` });
    assert.match(set.stdout, /^stored life_key \(version 1, \d+ bytes\)$/m);
    assert.equal(
      (await runCliOk(["get", "life_key"], { env: s.env })).stdout,
      v1,
      "one final newline is dropped",
    );
    await runCliOk(["rotate", "life_key"], { env: s.env, input: v2 });
    assert.equal((await runCliOk(["get", "life_key"], { env: s.env })).stdout, v2);

    const history = JSON.parse((await runCliOk(["history", "life_key", "--json"], { env: s.env })).stdout);
    assert.equal(history.current, 2);
    assert.deepEqual(
      history.versions.map((v: { version: number; origin: string }) => [v.version, v.origin]),
      [
        [1, "set"],
        [2, "rotate"],
      ],
    );
    const rollback = await runCliOk(["rollback", "life_key"], { env: s.env });
    assert.match(rollback.stdout, /life_key is now version 1/);
    assert.equal((await runCliOk(["get", "life_key"], { env: s.env })).stdout, v1);
    await runCliOk(["rollback", "life_key", "--to", "2"], { env: s.env });
    assert.equal((await runCliOk(["get", "life_key"], { env: s.env })).stdout, v2);

    // Versions live in the state directory, outside every name systemd searches.
    assert.deepEqual(readdirSync(s.store).sort(), ["life_key"]);
    assert.deepEqual(readdirSync(join(s.state, "credentials", "life_key", "versions")).sort(), ["1", "2"]);

    const rm = await runCliOk(["rm", "life_key"], { env: s.env });
    assert.match(rm.stdout, /removed life_key and 2 kept versions/);
    assert.equal(existsSync(join(s.store, "life_key")), false);
    assert.equal(existsSync(join(s.state, "credentials", "life_key")), false);
    const gone = await runCli(["get", "life_key"], { env: s.env });
    assert.equal(gone.code, 1);
    assert.equal(firstErrorLine(gone.stderr).code, "CREDENTIAL_NOT_FOUND");
  });

  it("keeps the file 0600 whatever the umask, in a 0700 store", async () => {
    await runCliOk(["set", "mode_key"], { env: s.env, input: makeCanary() });
    const mode = execFileSync("sh", ["-c", `umask 000; stat -c %a ${s.store}/mode_key ${s.store}`], {
      encoding: "utf8",
    });
    assert.deepEqual(mode.trim().split("\n"), ["600", "700"]);
  });

  it("records each operation in the audit log, without values", async () => {
    const audit = JSON.parse((await runCliOk(["audit", "--json"], { env: s.env })).stdout);
    const ops = (audit.records ?? audit).map((r: { op: string }) => r.op);
    for (const op of ["init", "set", "get", "rotate", "rollback", "rm"]) assert.ok(ops.includes(op), op);
    const verify = await runCli(["audit", "--verify"], { env: s.env });
    assert.equal(verify.code, 0, verify.stderr);
  });
});

describe("import and import-env", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld();
  });
  after(() => s.cleanup());

  it("imports a plaintext file and shreds it only after the credential decrypts", async () => {
    const value = makeCanary("import");
    const file = join(s.root, "insecurekey");
    writeFileSync(file, `${value}\n`, { mode: 0o644 });
    const r = await runCliOk(["import", "imported_key", file, "--shred"], { env: s.env });
    assert.match(r.stdout, /imported imported_key from .*original overwritten and removed/);
    assert.equal(existsSync(file), false);
    assert.equal((await runCliOk(["get", "imported_key"], { env: s.env })).stdout, value);
  });

  it("keeps the original without --shred, and says so", async () => {
    const file = join(s.root, "kept");
    writeFileSync(file, makeCanary(), { mode: 0o600 });
    const r = await runCliOk(["import", "kept_key", file], { env: s.env });
    assert.match(r.stderr, /still holds the value in plaintext/);
    assert.ok(existsSync(file));
  });

  it("imports a .env file all at once and prints the unit lines", async () => {
    const a = makeCanary("a");
    const b = makeCanary("b");
    const file = join(s.root, "app.env");
    writeFileSync(file, `# app\nOPENAI_API_KEY=${a}\nexport STRIPE_KEY="${b}"\n\n`, { mode: 0o600 });
    const r = await runCliOk(["import-env", file], { env: s.env });
    assert.match(r.stdout, /^LoadCredentialEncrypted=openai_api_key$/m);
    assert.match(r.stdout, /^LoadCredentialEncrypted=stripe_key$/m);
    assert.match(r.stdout, /^Environment=OPENAI_API_KEY_FILE=%d\/openai_api_key$/m);
    assert.equal((await runCliOk(["get", "openai_api_key"], { env: s.env })).stdout, a);
    assert.equal((await runCliOk(["get", "stripe_key"], { env: s.env })).stdout, b);
    assert.ok(!r.stdout.includes(a) && !r.stdout.includes(b));
  });

  it("finishes an interrupted import when run again: entries stored with the same value count as imported", async () => {
    const a = makeCanary("again-a");
    const b = makeCanary("again-b");
    const file = join(s.root, "resume.env");
    writeFileSync(file, `RESUME_A=${a}\nRESUME_B=${b}\n`, { mode: 0o600 });
    // What a kill -9 after the first entry leaves: resume_a stored, resume_b not.
    await runCliOk(["set", "resume_a"], { env: s.env, input: a });
    const r = await runCliOk(["import-env", file, "--json"], { env: s.env });
    assert.deepEqual(JSON.parse(r.stdout), [
      { variable: "RESUME_A", name: "resume_a", alreadyStored: true },
      { variable: "RESUME_B", name: "resume_b", alreadyStored: false },
    ]);
    assert.equal((await runCliOk(["get", "resume_b"], { env: s.env })).stdout, b);
    const history = JSON.parse((await runCliOk(["history", "resume_a", "--json"], { env: s.env })).stdout);
    assert.equal(history.versions?.length ?? history.length, 1, "the stored entry was not written again");
    const again = await runCliOk(["import-env", file], { env: s.env });
    assert.match(
      again.stdout,
      /^imported 0 credentials from .* \(2 already stored with these values: resume_a, resume_b\)/,
    );
    assert.ok(!`${r.stdout}${again.stdout}${again.stderr}`.includes(a));
  });

  it("takes none of a .env file when one entry is already stored with another value", async () => {
    const file = join(s.root, "again.env");
    writeFileSync(file, `FRESH_KEY=${makeCanary()}\nOPENAI_API_KEY=${makeCanary()}\n`, { mode: 0o600 });
    const r = await runCli(["import-env", file], { env: s.env });
    assert.equal(r.code, 1);
    assert.equal(firstErrorLine(r.stderr).code, "CREDENTIAL_EXISTS");
    assert.equal(existsSync(join(s.store, "fresh_key")), false);
  });
});

describe("ls and doctor find what goes wrong in real stores", () => {
  let s: Scratch;
  const units = () => join(s.root, "units");
  before(async () => {
    s = await initWorld();
    await runCliOk(["set", "good_key"], { env: s.env, input: makeCanary() });
    // A hand-written rotation: --name=MY_API_KEY written to the file my_api_key.
    encryptRaw(s, ["--name=MY_API_KEY"], makeCanary(), join(s.store, "my_api_key"));
    // A plaintext key dropped into the store by hand.
    writeFileSync(join(s.store, "pasted_key"), "sk-not-encrypted-at-all\n", { mode: 0o600 });
    // A credential readable by others.
    encryptRaw(s, ["--name=loose_key"], makeCanary(), join(s.store, "loose_key"));
    chmodSync(join(s.store, "loose_key"), 0o644);
    // A hand-made unit: encrypted (here with the right name) as my_app_key, loaded as my_key.
    encryptRaw(s, ["--name=my_app_key"], makeCanary(), join(s.store, "my_app_key"));
    mkdirSync(units());
    writeFileSync(
      join(units(), "job.service"),
      `[Service]\nLoadCredentialEncrypted=my_key:${s.store}/my_app_key\nLoadCredentialEncrypted=absent_key\nExecStart=/bin/true\n`,
    );
  });
  after(() => s.cleanup());

  it("ls shows a status for each, and no value", async () => {
    const r = await runCliOk(["ls", "--json", "--check"], { env: s.env });
    const status = Object.fromEntries(
      JSON.parse(r.stdout).map((e: { name: string; status: string }) => [e.name, e.status]),
    );
    assert.deepEqual(status, {
      good_key: "ok",
      loose_key: "perms-too-open",
      my_api_key: "name-mismatch",
      my_app_key: "ok",
      pasted_key: "plaintext",
    });
    assert.ok(!r.stdout.includes("sk-not-encrypted"));
  });

  it("status answers for a credential written by hand (no history), and refuses a name the store lacks", async () => {
    const text = await runCliOk(["status", "my_app_key"], { env: s.env });
    assert.match(text.stdout, /^my_app_key: stored without keyhold's history \(no versions\)$/m);
    const json = JSON.parse((await runCliOk(["status", "my_app_key", "--json"], { env: s.env })).stdout);
    assert.equal(json.current, null);
    assert.equal(json.name, "my_app_key");
    const missing = await runCli(["status", "no_such_key"], { env: s.env });
    assert.notEqual(missing.code, 0);
    assert.equal(firstErrorLine(missing.stderr).code, "CREDENTIAL_NOT_FOUND");
    assert.match(firstErrorLine(missing.stderr).message, /credential not found: no_such_key/);
  });

  it("doctor reports each problem with advice and exits 3", async () => {
    const r = await runCli(["doctor", "--units", units()], { env: s.env });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /FOUND {2}file-mode: .*loose_key is mode 0644/);
    assert.match(r.stdout, /FOUND {2}name-mismatch: .*named 'MY_API_KEY'/);
    assert.match(r.stdout, /FOUND {2}plaintext: .*pasted_key/);
    assert.match(r.stdout, /FOUND {2}unit-name-mismatch: .*job.service loads .*my_app_key as my_key/);
    assert.match(r.stdout, /use LoadCredentialEncrypted=my_app_key:/);
    assert.match(r.stdout, /FOUND {2}unit-missing-credential: .*absent_key/);
    assert.ok(!r.stdout.includes("sk-not-encrypted"));
  });

  it("doctor --fix repairs modes and embedded names, and leaves what needs a human", async () => {
    const r = await runCli(["doctor", "--fix", "--json", "--units", units()], { env: s.env });
    const report = JSON.parse(r.stdout);
    const fixed = report.findings
      .filter((f: { fixed?: string }) => f.fixed)
      .map((f: { kind: string }) => f.kind)
      .sort();
    assert.deepEqual(fixed, ["file-mode", "name-mismatch"]);
    assert.equal(r.code, 3, "plaintext and unit findings remain");
    const after = JSON.parse((await runCliOk(["ls", "--json", "--check"], { env: s.env })).stdout);
    const status = Object.fromEntries(after.map((e: { name: string; status: string }) => [e.name, e.status]));
    assert.equal(status.my_api_key, "ok");
    assert.equal(status.loose_key, "ok");
    const audit = readFileSync(join(s.state, "audit.log"), "utf8");
    assert.match(audit, /"op":"doctor-fix"/);
  });

  it("flags credentials that expire", async () => {
    await runCliOk(["set", "short_key", "--not-after", "+2d"], { env: s.env, input: makeCanary() });
    const ls = JSON.parse((await runCliOk(["ls", "--json"], { env: s.env })).stdout);
    assert.equal(ls.find((e: { name: string }) => e.name === "short_key").status, "expiring");
  });
});

describe("the history of current versions in the metadata", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld();
  });
  after(() => s.cleanup());

  const metaPath = (name: string) => join(s.state, "credentials", name, "meta.json");
  const readJson = (name: string) => JSON.parse(readFileSync(metaPath(name), "utf8"));
  const layout = () => CredentialStore.open({ env: s.env }).layout;
  /** A running unit whose activation began and whose main process started at `at` (ms). */
  const unitAt = (at: number): UnitState => ({
    unit: "u.service",
    id: "u.service",
    loadState: "loaded",
    activeState: "active",
    subState: "running",
    fragmentPath: "",
    dropInPaths: [],
    needDaemonReload: false,
    invocationId: "x",
    mainPid: 1,
    inactiveExit: at,
    mainStart: at,
    activeEnter: at,
  });

  it("set, rotate, rollback, rollback and rollback again each record the version made current, never a value", async () => {
    const v1 = makeCanary("hist1");
    const v2 = makeCanary("hist2");
    await runCliOk(["set", "hist_key"], { env: s.env, input: v1 });
    await runCliOk(["rotate", "hist_key"], { env: s.env, input: v2 });
    await runCliOk(["rollback", "hist_key"], { env: s.env });
    await runCliOk(["rollback", "hist_key", "--to", "2"], { env: s.env });
    await runCliOk(["rollback", "hist_key", "--to", "1"], { env: s.env });
    const meta = readJson("hist_key");
    assert.equal(meta.current, 1);
    const changes = meta.currentHistory as { version: number; since: string }[];
    assert.deepEqual(
      changes.map((c) => c.version),
      [1, 2, 1, 2, 1],
    );
    const times = changes.map((c) => Date.parse(c.since));
    assert.deepEqual(
      [...times].sort((a, b) => a - b),
      times,
      "oldest first",
    );
    // The last change is the store file's change time (ms precision).
    const since = currentSince(layout(), "hist_key");
    assert.ok(
      since !== undefined && Math.abs((times.at(-1) as number) - since) < 1,
      "since is the store file's ctime",
    );
    // A unit started between each pair of changes is judged, with certainty, by the version then current.
    const versions = versionTimes(layout(), "hist_key");
    const between = [1, 2, 3, 4].map((i) => ((times[i - 1] as number) + (times[i] as number)) / 2);
    assert.deepEqual(
      between.map((at) => judge(unitAt(at), since, versions)),
      [1, 2, 1, 2].map((v) => ({
        holds: v === 1 ? "current" : "stale",
        basis:
          v === 1
            ? "certain: version 1 was current when it started"
            : "certain: version 2 was current when it started; version 1 is current now",
      })),
    );
    // Nothing of either value reached the metadata, in any encoding.
    const text = readFileSync(metaPath("hist_key"), "utf8");
    for (const v of [v1, v2]) for (const form of encodingsOf(v)) assert.ok(!text.includes(form));
  });

  it("metadata written before the history was kept still reads, and the next change starts it", async () => {
    await runCliOk(["set", "old_key"], { env: s.env, input: makeCanary("old1") });
    await runCliOk(["rotate", "old_key"], { env: s.env, input: makeCanary("old2") });
    const { currentHistory, ...old } = readJson("old_key");
    assert.equal(currentHistory.length, 2);
    writeFileSync(metaPath("old_key"), JSON.stringify(old));
    const history = JSON.parse((await runCliOk(["history", "old_key", "--json"], { env: s.env })).stdout);
    assert.equal(history.current, 2);
    assert.equal(readMeta(layout(), "old_key")?.currentHistory, undefined);
    assert.equal(versionTimes(layout(), "old_key")?.history, undefined, "judged by write times, as before");
    await runCliOk(["rollback", "old_key"], { env: s.env });
    assert.deepEqual(
      readJson("old_key").currentHistory.map((c: { version: number }) => c.version),
      [1],
    );
  });

  it("a rollback whose metadata write was lost is recorded on read at the store file's change time", async () => {
    await runCliOk(["set", "crash_key"], { env: s.env, input: makeCanary("crash1") });
    await runCliOk(["rotate", "crash_key"], { env: s.env, input: makeCanary("crash2") });
    const before = readFileSync(metaPath("crash_key"), "utf8");
    await runCliOk(["rollback", "crash_key"], { env: s.env });
    // The metadata as a kill -9 between the store file's rename and the metadata write leaves it.
    writeFileSync(metaPath("crash_key"), before);
    const meta = readMeta(layout(), "crash_key");
    assert.equal(meta?.current, 1);
    assert.deepEqual(
      meta?.currentHistory?.map((c) => c.version),
      [1, 2, 1],
    );
    const since = currentSince(layout(), "crash_key") as number;
    assert.ok(Math.abs(Date.parse(meta?.currentHistory?.at(-1)?.since ?? "") - since) < 1);
    // The next change keeps what the read recovered.
    await runCliOk(["rollback", "crash_key", "--to", "2"], { env: s.env });
    assert.deepEqual(
      readJson("crash_key").currentHistory.map((c: { version: number }) => c.version),
      [1, 2, 1, 2],
    );
  });

  it("a malformed history is unreadable metadata, a coded error", async () => {
    await runCliOk(["set", "bad_key"], { env: s.env, input: makeCanary("bad") });
    writeFileSync(
      metaPath("bad_key"),
      JSON.stringify({ ...readJson("bad_key"), currentHistory: [{ version: "1" }] }),
    );
    const r = await runCli(["history", "bad_key"], { env: s.env });
    assert.equal(r.code, 1);
    assert.equal(firstErrorLine(r.stderr).code, "INVALID_FORMAT");
  });
});
