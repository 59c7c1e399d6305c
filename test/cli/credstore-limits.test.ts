/**
 * The edges of what a credential can be: the largest value (its ciphertext must stay readable),
 * one byte more (refused before anything is written), a file in the store that no one can read
 * (one line of `ls` and `doctor`, never the end of them), names of 255 bytes and names that
 * start with '-'.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { processStartTime, processTag, temporaryNameFor } from "../../src/durable/index.js";
import { CREDENTIAL_SIZE_MAX, CREDENTIAL_VALUE_MAX } from "../../src/systemd/index.js";
import { firstErrorLine, initWorld, runCli, runCliOk } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";

const sha256 = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");

/** A valid credential name of exactly 255 bytes. */
const longName = (letter: string) => `${letter}_${"x".repeat(253)}`;

/** Random bytes of `size` whose last byte is not a newline (so `set` keeps them whole either way). */
function randomValue(size: number): Buffer {
  const value = randomBytes(size);
  if (value[size - 1] === 0x0a) value[size - 1] = 0x0b;
  return value;
}

/** Everything a refused write must not have left: the store entry and the state directory. */
function assertNothingWritten(s: Scratch, name: string): void {
  assert.equal(existsSync(join(s.store, name)), false, "no store file");
  assert.equal(existsSync(join(s.state, "credentials", name)), false, "no state");
  assert.deepEqual(
    readdirSync(s.store).filter((f) => f.startsWith(".")),
    [],
    "no temporary file",
  );
}

describe("the value size limit", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld("keyhold-limits-");
  });
  after(() => s.cleanup());

  it("the largest value round-trips byte for byte through set, get and run, under a 255-byte name", async () => {
    const name = longName("a");
    const value = randomValue(CREDENTIAL_VALUE_MAX);
    const set = await runCliOk(["set", name, "--keep-newline", "--not-after", "+30d"], {
      env: s.env,
      input: value,
    });
    assert.match(set.stdout, new RegExp(`\\(version 1, ${CREDENTIAL_VALUE_MAX} bytes\\)`));
    const size = statSync(join(s.store, name)).size;
    assert.ok(size <= CREDENTIAL_SIZE_MAX, `its ciphertext is ${size} bytes, over systemd's limit`);
    const got = await runCliOk(["get", name], { env: s.env });
    assert.ok(got.stdoutBytes.equals(value), `get returned ${got.stdoutBytes.length} bytes, not the value`);
    const ran = await runCliOk(
      ["run", name, "--", "sh", "-c", 'sha256sum < "$CREDENTIALS_DIRECTORY/$1"', "sh", name],
      {
        env: s.env,
      },
    );
    assert.equal(ran.stdout.split(" ")[0], sha256(value));
    const listed = JSON.parse((await runCliOk(["ls", "--json", "--check"], { env: s.env })).stdout);
    assert.equal(listed.find((e: { name: string }) => e.name === name)?.status, "ok");
  });

  it("a value of the largest size plus its final newline is stored without the newline", async () => {
    const value = randomValue(CREDENTIAL_VALUE_MAX);
    await runCliOk(["set", "with_newline"], { env: s.env, input: Buffer.concat([value, Buffer.from("\n")]) });
    assert.ok((await runCliOk(["get", "with_newline"], { env: s.env })).stdoutBytes.equals(value));
  });

  it("one byte more is refused with TOO_LARGE by set, rotate, import and import-env, and nothing is written", async () => {
    const tooLarge = randomValue(CREDENTIAL_VALUE_MAX + 1);
    const set = await runCli(["set", "one_more", "--keep-newline"], { env: s.env, input: tooLarge });
    assert.equal(set.code, 1);
    assert.equal(firstErrorLine(set.stderr).code, "TOO_LARGE");
    assertNothingWritten(s, "one_more");

    const kept = makeCanary("kept");
    await runCliOk(["set", "rotated"], { env: s.env, input: kept });
    const rotate = await runCli(["rotate", "rotated", "--keep-newline"], { env: s.env, input: tooLarge });
    assert.equal(firstErrorLine(rotate.stderr).code, "TOO_LARGE");
    assert.equal((await runCliOk(["get", "rotated"], { env: s.env })).stdout, kept);
    const history = JSON.parse((await runCliOk(["history", "rotated", "--json"], { env: s.env })).stdout);
    assert.equal(history.versions.length, 1, "no version was added");

    const file = join(s.root, "big.plain");
    writeFileSync(file, tooLarge, { mode: 0o600 });
    const imported = await runCli(["import", "imported", file, "--shred", "--keep-newline"], { env: s.env });
    assert.equal(firstErrorLine(imported.stderr).code, "TOO_LARGE");
    assertNothingWritten(s, "imported");
    assert.ok(readFileSync(file).equals(tooLarge), "the file to import was not shredded");

    const env = join(s.root, "big.env");
    writeFileSync(env, `SMALL_ONE=${makeCanary()}\nBIG_ONE=${"v".repeat(CREDENTIAL_VALUE_MAX + 1)}\n`, {
      mode: 0o600,
    });
    const importEnv = await runCli(["import-env", env], { env: s.env });
    assert.equal(firstErrorLine(importEnv.stderr).code, "TOO_LARGE");
    assertNothingWritten(s, "small_one");
    assertNothingWritten(s, "big_one");
  });
});

describe("files in the store that cannot be read", () => {
  let s: Scratch;
  const good = makeCanary("good");
  before(async () => {
    s = await initWorld("keyhold-badfile-");
    await runCliOk(["set", "good_key"], { env: s.env, input: good });
    await runCliOk(["set", "broken_key"], { env: s.env, input: makeCanary() });
    // A credential systemd-creds itself made from a 1,000,000-byte value: about 1.35 MB of file.
    const huge = join(s.store, "huge_key");
    execFileSync("systemd-creds", ["encrypt", "--with-key=host", "--name=huge_key", "-", huge], {
      env: s.env,
      input: randomBytes(1_000_000),
    });
    chmodSync(huge, 0o600);
    // A ciphertext damaged after its header: it parses, but does not decrypt.
    const broken = join(s.store, "broken_key");
    const text = readFileSync(broken, "latin1");
    const at = text.length - 40;
    writeFileSync(
      broken,
      `${text.slice(0, at)}${text[at] === "A" ? "B" : "A"}${text.slice(at + 1)}`,
      "latin1",
    );
    // keyhold's own metadata would vouch for it; a file made by hand has none.
    execFileSync("rm", ["-r", join(s.state, "credentials", "broken_key")]);
  });
  after(() => s.cleanup());

  it("ls gives each its own status and still lists the others", async () => {
    for (const args of [
      ["ls", "--json"],
      ["ls", "--json", "--check"],
    ]) {
      const entries = JSON.parse((await runCliOk(args, { env: s.env })).stdout) as {
        name: string;
        status: string;
      }[];
      const status = Object.fromEntries(entries.map((e) => [e.name, e.status]));
      assert.equal(status.huge_key, "too-large", args.join(" "));
      assert.equal(status.good_key, "ok", args.join(" "));
      if (args.includes("--check")) assert.equal(status.broken_key, "decrypt-failed");
    }
  });

  it("doctor reports them as findings and goes on with the rest", async () => {
    const r = await runCli(["doctor", "--json", "--units", join(s.root, "no-units")], { env: s.env });
    assert.equal(r.code, 3, r.stderr);
    const { findings } = JSON.parse(r.stdout) as { findings: { kind: string; subject: string }[] };
    assert.deepEqual(findings.map((f) => `${f.kind} ${f.subject}`).sort(), [
      "decrypt-failed broken_key",
      "too-large huge_key",
    ]);
    assert.equal((await runCliOk(["get", "good_key"], { env: s.env })).stdout, good);
  });
});

describe("credential names at the edges", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld("keyhold-names-");
  });
  after(() => s.cleanup());

  it("a 255-byte name goes through set, rotate, history, rollback, get, run, ls, doctor and rm", async () => {
    const name = longName("b");
    assert.equal(Buffer.byteLength(name), 255);
    const [v1, v2] = [makeCanary("v1"), makeCanary("v2")];
    await runCliOk(["set", name], { env: s.env, input: v1 });
    await runCliOk(["rotate", name], { env: s.env, input: v2 });
    const history = JSON.parse((await runCliOk(["history", name, "--json"], { env: s.env })).stdout);
    assert.equal(history.current, 2);
    await runCliOk(["rollback", name], { env: s.env });
    assert.equal((await runCliOk(["get", name], { env: s.env })).stdout, v1);
    const ran = await runCliOk(
      ["run", name, "--", "sh", "-c", 'cat "$CREDENTIALS_DIRECTORY/$1" | sha256sum', "sh", name],
      {
        env: s.env,
      },
    );
    assert.equal(ran.stdout.split(" ")[0], sha256(v1));
    const listed = JSON.parse((await runCliOk(["ls", "--json"], { env: s.env })).stdout);
    assert.deepEqual(
      listed.map((e: { name: string; status: string }) => [e.name, e.status]),
      [[name, "ok"]],
    );
    await runCliOk(["doctor", "--units", join(s.root, "no-units")], { env: s.env });
    const rm = await runCliOk(["rm", name], { env: s.env });
    assert.match(rm.stdout, /and 2 kept versions/);
    assert.deepEqual(readdirSync(s.store), []);
    assert.deepEqual(readdirSync(join(s.state, "credentials")), []);
  });

  it("a temporary file of a 255-byte name, left by a dead writer, is found by ls and removed by doctor --fix", async () => {
    const name = longName("c");
    await runCliOk(["set", name], { env: s.env, input: makeCanary() });
    const started = processStartTime(process.pid);
    assert.ok(started);
    // The name keyhold would use, as if written by this pid in an earlier life.
    const ours = basename(temporaryNameFor(join(s.store, name)));
    const leftover = ours.replace(`.tmp-${processTag()}-`, `.tmp-${process.pid}.${BigInt(started) + 1n}-`);
    assert.ok(Buffer.byteLength(leftover) <= 255);
    writeFileSync(join(s.store, leftover), "half a ciphertext", { mode: 0o600 });
    const listed = JSON.parse((await runCliOk(["ls", "--json"], { env: s.env })).stdout);
    assert.equal(listed.find((e: { name: string }) => e.name === leftover)?.status, "leftover-temp");
    await runCliOk(["doctor", "--fix", "--units", join(s.root, "no-units")], { env: s.env });
    assert.deepEqual(readdirSync(s.store), [name]);
  });

  it("a name that starts with '-' works after '--' (and after a comma for run), as --help says", async () => {
    const value = makeCanary("dash");
    assert.match((await runCliOk(["set", "--help"], { env: s.env })).stdout, /keyhold set -- -NAME/);
    assert.match((await runCliOk(["run", "--help"], { env: s.env })).stdout, /keyhold run ,-NAME -- COMMAND/);
    await runCliOk(["set", "--", "-dash"], { env: s.env, input: value });
    await runCliOk(["rotate", "--", "-dash"], { env: s.env, input: makeCanary() });
    await runCliOk(["rollback", "--to", "1", "--", "-dash"], { env: s.env });
    assert.equal((await runCliOk(["get", "--", "-dash"], { env: s.env })).stdout, value);
    const history = JSON.parse((await runCliOk(["history", "--json", "--", "-dash"], { env: s.env })).stdout);
    assert.equal(history.current, 1);
    const ran = await runCliOk(
      ["run", ",-dash", "--", "sh", "-c", 'sha256sum < "$CREDENTIALS_DIRECTORY/-dash"'],
      {
        env: s.env,
      },
    );
    assert.equal(ran.stdout.split(" ")[0], sha256(value));
    await runCliOk(["rm", "--", "-dash"], { env: s.env });
    assert.equal(existsSync(join(s.store, "-dash")), false);
  });
});
