import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { makeCanary, makeScratch } from "../support/scratch.js";
import { everyFileUnder } from "./support.js";

const BIN = join(import.meta.dirname, "..", "..", "..", "bin", "keyhold.js");

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function keyhold(env: NodeJS.ProcessEnv, args: string[], input?: string): Outcome {
  const r = spawnSync(process.execPath, [BIN, "vault", ...args], {
    env,
    input: input ?? "",
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("keyhold vault: a transcript of the whole life of a secret, with canaries", async () => {
  const s = makeScratch("keyhold-vault-cli-");
  const canary = makeCanary("cli");
  const seen: Outcome[] = [];
  const run = (args: string[], input?: string) => {
    const o = keyhold(s.env, args, input);
    seen.push(o);
    return o;
  };
  try {
    let o = run(["init", "--schedule-kek", "90d", "--schedule-dek", "30d"]);
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /^created vault [0-9a-f]{32} \(file backend, master key: systemd-credential\)\n$/);
    o = run(["init"]);
    assert.equal(o.code, 1);
    assert.match(o.stderr, /\[VAULT_EXISTS\]/);

    o = run(["put", "weather/api_key"], canary);
    assert.deepEqual([o.code, o.stdout], [0, "stored weather/api_key version 1\n"]);
    o = run(["put", "weather/api_key"], `${canary}-v2`);
    assert.equal(o.stdout, "stored weather/api_key version 2\n");
    o = run(["get", "weather/api_key", "--version", "1"]);
    assert.deepEqual([o.code, o.stdout], [0, canary]);

    o = run(["ls", "--json"]);
    const listed = JSON.parse(o.stdout);
    assert.deepEqual(
      listed.map((x: { ns: string; name: string; version: number }) => `${x.ns}/${x.name}@${x.version}`),
      ["weather/api_key@2"],
    );
    o = run(["versions", "weather/api_key"]);
    assert.match(o.stdout, /^ {2}v1 .*\n\* v2 /);
    o = run(["rollback", "weather/api_key"]);
    assert.equal(o.stdout, "weather/api_key is at version 1 again\n");
    assert.equal(run(["get", "weather/api_key"]).stdout, canary);

    o = run(["rotate", "kek"]);
    assert.match(o.stdout, /^rotated kek: now version 2 \(1 namespaces rewrapped\)\n$/);
    o = run(["rotate", "dek", "weather", "--rewrite"]);
    assert.match(o.stdout, /^rotated dek: now version 2/);
    o = run(["rotate", "master", "--reason", "yearly"]);
    assert.equal(o.code, 0, o.stderr);
    o = run(["rotate", "--due"]);
    assert.equal(o.stdout, "nothing is due\n");
    o = run(["rotate", "--all", "--reason", "laptop stolen"]);
    assert.match(o.stdout, /rotated master: now version 3/);
    o = run(["rotate", "--status", "--json"]);
    assert.deepEqual(JSON.parse(o.stdout).keys, { master: 3, kek: 4, keks: [4] });
    assert.equal(run(["get", "weather/api_key"]).stdout, canary);

    // Plugins: a manifest, a grant, the policy shown.
    const manifest = join(s.root, "weather-plugin.json");
    writeFileSync(
      manifest,
      JSON.stringify({ plugin: "weather", needs: [{ ns: "weather", name: "api_key", ops: ["read"] }] }),
    );
    assert.equal(run(["policy", "load", manifest]).code, 0);
    o = run(["grant", "weather", "weather/api_key", "--ops", "read"]);
    assert.equal(o.stdout, "granted weather: read on weather/api_key\n");
    o = run(["grant", "weather", "weather/api_key", "--ops", "write"]);
    assert.equal(o.code, 1);
    assert.match(o.stderr, /does not declare .*\[ACCESS_DENIED\]/);
    o = run(["policy", "--json"]);
    assert.deepEqual(JSON.parse(o.stdout).grants, {
      weather: [{ ns: "weather", name: "api_key", ops: ["read"] }],
    });
    assert.equal(run(["revoke", "weather", "weather/api_key"]).code, 0);

    // Imports: a .env file and a legacy Fernet store made by an independent implementation.
    const envFile = join(s.root, "app.env");
    writeFileSync(envFile, `OPENAI_API_KEY=${canary}-env\n# comment\nexport DB_PASSWORD="pw ${canary}"\n`, {
      mode: 0o600,
    });
    o = run(["import-env", envFile, "--ns", "app"]);
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /imported 2 secrets into app/);
    assert.equal(run(["get", "app/openai_api_key"]).stdout, `${canary}-env`);
    assert.equal(run(["get", "app/db_password"]).stdout, `pw ${canary}`);

    const fernet = createRequire(import.meta.url)("fernet");
    const key = randomBytes(32).toString("base64url");
    const legacy = {
      api_keys: { openai: `${canary}-fernet`, anthropic: "sk-ant-x" },
      oauth_tokens: { github: { access_token: `${canary}-gh`, expires_in: 3600 } },
    };
    const token = new fernet.Token({ secret: new fernet.Secret(key), ttl: 0 }).encode(JSON.stringify(legacy));
    const keyFile = join(s.root, "legacy.key");
    const tokenFile = join(s.root, "legacy.enc");
    writeFileSync(keyFile, `${key}=\n`, { mode: 0o600 });
    writeFileSync(tokenFile, token);
    o = run(["migrate-fernet", tokenFile, "--key-file", keyFile]);
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /imported 4 secrets/);
    assert.equal(run(["get", "openai/api_key"]).stdout, `${canary}-fernet`);
    assert.equal(run(["get", "github/oauth_access_token"]).stdout, `${canary}-gh`);
    assert.equal(run(["get", "github/oauth_expires_in"]).stdout, "3600");
    const wrongKey = join(s.root, "wrong.key");
    writeFileSync(wrongKey, randomBytes(32).toString("base64url"), { mode: 0o600 });
    o = run(["migrate-fernet", tokenFile, "--key-file", wrongKey]);
    assert.equal(o.code, 1);
    assert.match(o.stderr, /\[DECRYPT_FAILED\]/);

    o = run(["rm", "openai/api_key"]);
    assert.equal(o.stdout, "removed openai/api_key\n");
    assert.match(run(["get", "openai/api_key"]).stderr, /\[SECRET_NOT_FOUND\]/);

    // Audit: every operation recorded; verification passes, then catches a truncated log.
    o = run(["audit", "--json"]);
    const ops = JSON.parse(o.stdout).map((r: { op: string }) => r.op);
    for (const op of [
      "vault.init",
      "vault.put",
      "vault.get",
      "vault.rotate.kek",
      "vault.rotate.master",
      "vault.grant",
      "vault.import",
      "vault.rm",
    ]) {
      assert.ok(ops.includes(op), `${op} audited`);
    }
    o = run(["audit", "verify"]);
    assert.deepEqual([o.code, o.stdout], [0, "vault and audit log verified\n"]);
    const logPath = join(s.state, "audit.log");
    const lines = readFileSync(logPath, "utf8").split("\n").filter(Boolean);
    writeFileSync(logPath, `${lines.slice(0, 5).join("\n")}\n`);
    o = run(["audit", "verify"]);
    assert.equal(o.code, 3, o.stdout + o.stderr);
    assert.match(o.stdout, /problem: /);

    // Nothing printed, logged or left on disk holds a value (get's own stdout aside).
    for (const out of seen) {
      assert.ok(!out.stderr.includes(canary), "canary in stderr");
    }
    for (const out of seen.filter((x) => !/^kh-cli-/.test(x.stdout) && !x.stdout.startsWith("pw "))) {
      assert.ok(!out.stdout.includes(canary), `canary in stdout: ${out.stdout.slice(0, 80)}`);
    }
    for (const { path, bytes } of everyFileUnder(s.state))
      assert.ok(!bytes.includes(Buffer.from(canary)), `canary in ${path}`);
    for (const { path, bytes } of everyFileUnder(s.store))
      assert.ok(!bytes.includes(Buffer.from(canary)), `canary in ${path}`);
  } finally {
    s.cleanup();
  }
});

test("keyhold vault: tampered store is a finding (exit 3); bad usage exits 2; bad input exits 1 with a code", () => {
  const s = makeScratch("keyhold-vault-cli-");
  try {
    assert.equal(keyhold(s.env, ["init"]).code, 0);
    assert.equal(keyhold(s.env, ["put", "a/b"], "value").code, 0);
    const path = join(s.state, "vault", "vault.json");
    const doc = JSON.parse(readFileSync(path, "utf8"));
    delete doc.records["secret/a/b"];
    writeFileSync(path, JSON.stringify(doc));
    const v = keyhold(s.env, ["verify"]);
    assert.equal(v.code, 3);
    assert.match(v.stdout, /VAULT_TAMPERED/);

    // Named input files must be regular files: a FIFO would block for ever, a link is refused.
    const fifo = join(s.root, "input.fifo");
    assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
    const link = join(s.root, "input-link.env");
    writeFileSync(join(s.root, "real.env"), "A=1\n", { mode: 0o600 });
    symlinkSync(join(s.root, "real.env"), link);
    const table: Array<[string[], number, RegExp]> = [
      [["import-env", fifo, "--ns", "app"], 1, /not a regular file: .*input\.fifo \[NOT_A_FILE\]/],
      [["import-env", link, "--ns", "app"], 1, /\[SYMLINK_REFUSED\]/],
      [["policy", "load", fifo], 1, /\[NOT_A_FILE\]/],
      [["migrate-fernet", fifo, "--key-file", fifo], 1, /\[NOT_A_FILE\]/],
      [["frobnicate"], 2, /unknown vault subcommand/],
      [["get"], 2, /missing NS\/NAME/],
      [["get", "a/b", "c/d"], 2, /unexpected argument/],
      [["get", "a/b", "--version", "x"], 2, /positive whole number/],
      [["put", "a/b", "--bogus"], 2, /\[USAGE\]/],
      [["rotate"], 2, /give one of/],
      [["rotate", "kek", "ns"], 2, /only dek rotation/],
      [["rotate", "--all"], 2, /--all needs --reason/],
      [["rotate", "sideways"], 2, /unknown key level/],
      [["init", "--provider", "magic"], 2, /--provider must be/],
      [["init", "--backend", "floppy"], 2, /--backend must be/],
      [["import-env", "x.env"], 2, /--ns NS is required/],
      [["migrate-fernet", "t"], 2, /--key-file/],
      [["get", "noslash"], 1, /\[INVALID_NAME\]/],
      [["get", "../etc/passwd"], 1, /\[INVALID_NAME\]/],
    ];
    for (const [args, code, pattern] of table) {
      const o = keyhold(s.env, args);
      assert.equal(o.code, code, `${args.join(" ")}: ${o.stderr}`);
      assert.match(o.stderr, pattern, args.join(" "));
      assert.match(o.stderr, /^keyhold: .* \[[A-Z_]+\]\n/, "one coded line");
    }
  } finally {
    s.cleanup();
  }
});

test("keyhold vault rotate --render-timer writes a service and timer that systemd-analyze accepts", (t) => {
  const s = makeScratch("keyhold-vault-timer-");
  try {
    const dir = join(s.root, "units");
    mkdirSync(dir);
    const o = keyhold(s.env, ["rotate", "--render-timer", "--exec", process.execPath, "--write-dir", dir]);
    assert.equal(o.code, 0, o.stderr);
    const service = readFileSync(join(dir, "keyhold-vault-rotate.service"), "utf8");
    const timer = readFileSync(join(dir, "keyhold-vault-rotate.timer"), "utf8");
    assert.match(
      service,
      new RegExp(
        `^ExecStart=${process.execPath} vault rotate --due --store ${s.store} --state ${s.state}$`,
        "m",
      ),
    );
    assert.match(timer, /^OnCalendar=daily$/m);
    assert.match(timer, /^Persistent=true$/m);
    const analyze = spawnSync(
      "systemd-analyze",
      ["verify", join(dir, "keyhold-vault-rotate.service"), join(dir, "keyhold-vault-rotate.timer")],
      { encoding: "utf8" },
    );
    if (analyze.error) return t.skip("systemd-analyze is not installed");
    const complaints = analyze.stderr.split("\n").filter((l) => l.includes("keyhold-vault-rotate"));
    assert.deepEqual(complaints, [], analyze.stderr);
  } finally {
    s.cleanup();
  }
});

test("keyhold vault with the passphrase provider: --passphrase-file, re-authentication, wrong passphrase", () => {
  const s = makeScratch("keyhold-vault-pass-");
  try {
    const good = join(s.root, "pass");
    const bad = join(s.root, "wrong");
    writeFileSync(good, "a long and correct passphrase\n", { mode: 0o600 });
    writeFileSync(bad, "not it\n", { mode: 0o600 });
    let o = keyhold(s.env, ["init", "--provider", "passphrase", "--passphrase-file", good]);
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /master key: passphrase/);
    o = keyhold(s.env, ["put", "app/token"], "tok-123");
    assert.equal(o.code, 2, "put needs the passphrase from a file since stdin holds the value");
    assert.equal(keyhold(s.env, ["put", "app/token", "--passphrase-file", good], "tok-123").code, 0);
    assert.equal(keyhold(s.env, ["get", "app/token", "--passphrase-file", good]).stdout, "tok-123");
    o = keyhold(s.env, ["get", "app/token", "--passphrase-file", bad]);
    assert.equal(o.code, 1);
    assert.match(o.stderr, /\[WRONG_PASSPHRASE\]/);
    o = keyhold(s.env, ["rotate", "master", "--passphrase-file", good]);
    assert.equal(o.code, 0, o.stderr);
    assert.equal(keyhold(s.env, ["get", "app/token", "--passphrase-file", good]).stdout, "tok-123");
    writeFileSync(join(s.root, "loose"), "x", { mode: 0o644 });
    o = keyhold(s.env, ["get", "app/token", "--passphrase-file", join(s.root, "loose")]);
    assert.equal(o.code, 1);
    assert.match(o.stderr, /\[PERMISSIONS_TOO_OPEN\]/);
  } finally {
    s.cleanup();
  }
});

test("keyhold vault run: secrets as files in a private directory, never in argv or the environment, gone afterwards", () => {
  const s = makeScratch("keyhold-vault-run-");
  try {
    const canary = makeCanary("run");
    assert.equal(keyhold(s.env, ["init"]).code, 0);
    assert.equal(keyhold(s.env, ["put", "weather/api_key"], canary).code, 0);
    assert.equal(keyhold(s.env, ["put", "billing/token"], "tok").code, 0);
    const script =
      'cat "$CREDENTIALS_DIRECTORY/api_key"; echo; cat "$CREDENTIALS_DIRECTORY/token"; echo; echo "$CREDENTIALS_DIRECTORY" >&2; env | grep -c "kh-run" || true; stat -c %a "$CREDENTIALS_DIRECTORY/api_key"; exit 7';
    const o = keyhold(s.env, ["run", "weather/api_key,billing/token", "--", "sh", "-c", script]);
    assert.equal(o.code, 7, o.stderr);
    const [value, token, envHits, mode] = o.stdout.split("\n");
    assert.deepEqual([value, token, envHits, mode], [canary, "tok", "0", "400"]);
    const dir = o.stderr.trim().split("\n").at(-1) ?? "";
    assert.match(dir, /\/credentials-\d+\.\d+-/);
    assert.equal(spawnSync("test", ["-e", dir]).status, 1, "the directory is gone");
    const dup = keyhold(s.env, ["run", "a/x,b/x", "--", "true"]);
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /both be the file x/);
    assert.equal(keyhold(s.env, ["run", "weather/api_key"]).code, 2);
    const missing = keyhold(s.env, ["run", "weather/nope", "--", "true"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\[SECRET_NOT_FOUND\]/);
  } finally {
    s.cleanup();
  }
});

test("keyhold vault put --from-file --shred migrates a plaintext file and removes it only after reading back", () => {
  const s = makeScratch("keyhold-vault-file-");
  try {
    const canary = makeCanary("file");
    assert.equal(keyhold(s.env, ["init"]).code, 0);
    const plain = join(s.root, "api_key.txt");
    writeFileSync(plain, canary, { mode: 0o644 });
    const o = keyhold(s.env, ["put", "legacy/api_key", "--from-file", plain, "--shred"]);
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /overwritten and removed/);
    assert.equal(spawnSync("test", ["-e", plain]).status, 1);
    assert.equal(keyhold(s.env, ["get", "legacy/api_key"]).stdout, canary);
    assert.equal(keyhold(s.env, ["put", "legacy/x", "--shred"]).code, 2);
    const missing = keyhold(s.env, ["put", "legacy/x", "--from-file", join(s.root, "nope")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\[FILE_NOT_FOUND\]/);
    for (const { path, bytes } of everyFileUnder(s.root))
      assert.ok(!bytes.includes(Buffer.from(canary)), `canary in ${path}`);
  } finally {
    s.cleanup();
  }
});

test("keyhold vault: text written into the store reaches the terminal with its control characters escaped", () => {
  const s = makeScratch("keyhold-vault-cli-");
  try {
    assert.equal(keyhold(s.env, ["init"]).code, 0);
    const path = join(s.state, "vault", "vault.json");
    const doc = JSON.parse(readFileSync(path, "utf8"));
    // Erase the line, return to its start and print a reassuring verdict; a C1 CSI as well.
    const hostile = "\x1b[2K\rvault verified\x1b[8m\x9b2J\x7f";
    const policy = JSON.parse(doc.records.policy.v);
    doc.records.policy.v = JSON.stringify({ ...policy, k: hostile });
    doc.records[`secret/${hostile}`] = { r: 1, v: doc.records.meta.v };
    writeFileSync(path, JSON.stringify(doc));
    const raw = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;
    for (const args of [["verify"], ["verify", "--json"], ["ls"], ["audit", "verify"]]) {
      const o = keyhold(s.env, args);
      assert.notEqual(o.code, 0, args.join(" "));
      assert.match(o.stdout + o.stderr, /VAULT_TAMPERED/, args.join(" "));
      assert.doesNotMatch(o.stdout, raw, `stdout of ${args.join(" ")}: ${JSON.stringify(o.stdout)}`);
      assert.doesNotMatch(o.stderr, raw, `stderr of ${args.join(" ")}: ${JSON.stringify(o.stderr)}`);
    }
  } finally {
    s.cleanup();
  }
});

test("keyhold's error printer escapes control characters in any message and hint", async () => {
  const { reportError } = await import("../../src/cli/main.js");
  const { SecretError } = await import("../../src/secret/index.js");
  const { Writable, Readable } = await import("node:stream");
  let text = "";
  const stderr = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  const io = { stdin: Readable.from([]), stdout: stderr, stderr, env: {} };
  reportError(
    io,
    new SecretError("IO_ERROR", "from a server: \x1b]0;pwned\x07\r\n\x9bok", { hint: "\x1b[1A" }),
  );
  reportError(io, new Error("unexpected \x1b[2J"));
  assert.equal(text.split("\n").length, 4, text);
  assert.doesNotMatch(text.replaceAll("\n", ""), /[\x00-\x1f\x7f-\x9f]/);
  assert.match(text, /^keyhold: from a server: \\x1b\]0;pwned\\x07\\x0d\\x0a\\x9bok \[IO_ERROR\]\n/);
});
