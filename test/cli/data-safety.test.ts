/**
 * What a new user can lose by accident, through the CLI as a user runs it: keyhold's own
 * credentials (the vault master, the audit key) under set/rotate/import/rollback/rm, a legacy
 * import on top of existing secrets, and a final newline that changes a value. Real systemd-creds,
 * a scratch store; every value a canary that must appear in no output, no error and no audit record.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type CliResult, firstErrorLine, initWorld, runCli, runCliOk } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";

/** Every output a test saw, searched for canaries at the end. */
const seen: { args: string[]; r: CliResult }[] = [];
const canaries: string[] = [];
function canary(label: string): string {
  const c = makeCanary(label);
  canaries.push(c);
  return c;
}
async function kh(s: Scratch, args: string[], input?: string | Buffer): Promise<CliResult> {
  const r = await runCli(args, { env: s.env, ...(input === undefined ? {} : { input }) });
  seen.push({ args, r });
  return r;
}
async function khOk(s: Scratch, args: string[], input?: string | Buffer): Promise<CliResult> {
  const r = await runCliOk(args, { env: s.env, ...(input === undefined ? {} : { input }) });
  seen.push({ args, r });
  return r;
}
function assertNoCanaryIn(s: Scratch): void {
  const audit = readFileSync(join(s.state, "audit.log"), "utf8");
  for (const c of canaries) {
    assert.ok(!audit.includes(c), "no value in the audit log");
    for (const { args, r } of seen) {
      assert.ok(!args.some((a) => a.includes(c)), "no value in argv");
      // `get` writes the value to its pipe by design; nothing else prints one.
      if (!args.includes("get")) assert.ok(!r.stdout.includes(c), `no value on stdout of ${args.join(" ")}`);
      assert.ok(!r.stderr.includes(c), `no value on stderr of ${args.join(" ")}`);
    }
  }
}

describe("keyhold's own credentials", () => {
  let s: Scratch;
  const master = () => join(s.store, "keyhold-vault-master");
  before(async () => {
    s = await initWorld("keyhold-own-");
    await khOk(s, ["vault", "init"]);
    await khOk(s, ["set", "user_key"], canary("user"));
    await khOk(s, ["vault", "put", "app/token"], canary("vault"));
  });
  after(() => s.cleanup());

  it("ls marks the vault master as keyhold's, in text and JSON", async () => {
    const text = (await khOk(s, ["ls"])).stdout;
    assert.match(text, /keyhold's own credentials/);
    assert.match(
      text,
      /^ {2}keyhold-vault-master: the vault's master key; managed by keyhold vault rotate master$/m,
    );
    assert.doesNotMatch(text, /^ {2}user_key:/m);
    const json = JSON.parse((await khOk(s, ["ls", "--json"])).stdout) as {
      name: string;
      keyhold: { role: string; managedBy: string } | null;
    }[];
    const byName = new Map(json.map((e) => [e.name, e]));
    assert.deepEqual(byName.get("keyhold-vault-master")?.keyhold, {
      role: "the vault's master key",
      managedBy: "keyhold vault rotate master",
    });
    assert.equal(byName.get("user_key")?.keyhold, null);
  });

  it("rm, rotate, set, import, rollback refuse the master and leave it and the vault as they were", async () => {
    const before = readFileSync(master());
    const plain = join(s.root, "plain");
    writeFileSync(plain, canary("plain"), { mode: 0o600 });
    const attempts: [string[], string][] = [
      [["rm", "keyhold-vault-master"], "rm"],
      [["rotate", "keyhold-vault-master"], "rotate"],
      [["set", "keyhold-vault-master"], "set"],
      [["import", "keyhold-vault-master", plain], "import"],
      [["rollback", "keyhold-vault-master"], "rollback"],
      [["set", "keyhold-vault-master.next"], "set"],
      [["rm", "keyhold-vault-master.next"], "rm"],
      [["set", "keyhold.audit-key"], "set"],
      [["set", "keyhold.scan-key"], "set"],
    ];
    for (const [args, command] of attempts) {
      const r = await kh(s, args, canary("attempt"));
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      const e = firstErrorLine(r.stderr);
      assert.equal(e.code, "RESERVED_NAME", args.join(" "));
      assert.match(e.message, new RegExp(`keyhold's own credential .*; keyhold ${command} refuses it$`));
      assert.match(r.stderr, /hint: it is managed by: /);
    }
    assert.match(
      (await kh(s, ["rm", "keyhold-vault-master"])).stderr,
      /managed by: keyhold vault rotate master/,
    );
    assert.deepEqual(readFileSync(master()), before, "the master is untouched");
    assert.equal(existsSync(`${master()}.next`), false);
    assert.equal(existsSync(join(s.store, "keyhold.audit-key")), false);
    assert.equal(existsSync(plain), true, "the plaintext file is kept");
    assert.equal((await khOk(s, ["vault", "ls", "--json"])).code, 0, "the vault still opens");
    // The refusals are audited with their code.
    const audit = JSON.parse((await khOk(s, ["audit", "--json"])).stdout);
    const records = (audit.records ?? audit) as { op: string; name?: string; code?: string }[];
    assert.ok(
      records.some((r) => r.op === "rm" && r.name === "keyhold-vault-master" && r.code === "RESERVED_NAME"),
    );
  });

  it("import-env refuses a line that would land on keyhold's own credential, and imports nothing", async () => {
    const env = join(s.root, "own.env");
    writeFileSync(env, `FRESH_KEY=${canary("fresh")}\nKEYHOLD-VAULT-MASTER=${canary("env")}\n`, {
      mode: 0o600,
    });
    const r = await kh(s, ["import-env", env]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(firstErrorLine(r.stderr).code, "RESERVED_NAME");
    assert.equal(existsSync(join(s.store, "fresh_key")), false, "all or nothing");
  });

  it("doctor reports a vault whose master is gone and an audit log whose key is gone (exit 3)", async () => {
    const clean = await kh(s, ["doctor"]);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    const aside = join(s.root, "master.aside");
    renameSync(master(), aside);
    try {
      const r = await kh(s, ["doctor", "--json"]);
      assert.equal(r.code, 3, r.stderr);
      const found = JSON.parse(r.stdout).findings as { kind: string; subject: string }[];
      assert.deepEqual(
        found.filter((f) => f.kind === "vault-master-missing").map((f) => f.subject),
        ["keyhold-vault-master"],
      );
      assert.equal((await kh(s, ["vault", "ls"])).code, 1, "the vault indeed cannot open");
    } finally {
      renameSync(aside, master());
    }
    const keyAside = join(s.root, "audit-key.aside");
    renameSync(join(s.state, "keyhold.audit-key"), keyAside);
    try {
      const r = await kh(s, ["doctor"]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stdout, /^FOUND {2}audit-key-missing: the audit log .*audit\.log has no key/m);
      assert.doesNotMatch(r.stdout, /vault-master-missing/);
    } finally {
      renameSync(keyAside, join(s.state, "keyhold.audit-key"));
    }
    assert.equal((await kh(s, ["doctor"])).code, 0);
    assertNoCanaryIn(s);
  });

  it("a vault made with --credential-name has its master under that name protected too", async () => {
    const t = await initWorld("keyhold-own-named-");
    try {
      await khOk(t, ["vault", "init", "--credential-name", "team-master"]);
      const r = await kh(t, ["rm", "team-master"]);
      assert.equal(firstErrorLine(r.stderr).code, "RESERVED_NAME");
      assert.equal(existsSync(join(t.store, "team-master")), true);
      const ls = JSON.parse((await khOk(t, ["ls", "--json"])).stdout) as { name: string; keyhold: unknown }[];
      assert.notEqual(ls.find((e) => e.name === "team-master")?.keyhold, null);
    } finally {
      t.cleanup();
    }
  });
});

describe("vault migrate-fernet on top of existing secrets", () => {
  let s: Scratch;
  let keyFile: string;
  const fernet = createRequire(import.meta.url)("fernet");
  const key = randomBytes(32).toString("base64url");
  const legacyFile = (name: string, doc: unknown): string => {
    const token = new fernet.Token({ secret: new fernet.Secret(key), ttl: 0 }).encode(JSON.stringify(doc));
    const path = join(s.root, name);
    writeFileSync(path, token);
    return path;
  };
  const versions = async (ref: string) =>
    (JSON.parse((await khOk(s, ["vault", "versions", ref, "--json"])).stdout) as unknown[]).length;
  const get = async (ref: string) => (await khOk(s, ["vault", "get", ref])).stdout;

  before(async () => {
    s = await initWorld("keyhold-migrate-");
    await khOk(s, ["vault", "init"]);
    keyFile = join(s.root, "legacy.key");
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  });
  after(() => s.cleanup());

  it("refuses the whole import when a name holds another value, imports with --overwrite, and a re-run changes nothing", async () => {
    const existing = canary("existing");
    await khOk(s, ["vault", "put", "weather/api_key"], existing);
    const legacy = {
      api_keys: { weather: canary("legacy"), maps: canary("maps") },
      oauth_tokens: { github: { access_token: canary("gh"), expires_in: 3600 } },
    };
    const file = legacyFile("legacy.enc", legacy);

    const refused = await kh(s, ["vault", "migrate-fernet", file, "--key-file", keyFile]);
    assert.equal(refused.code, 1, refused.stderr);
    const e = firstErrorLine(refused.stderr);
    assert.equal(e.code, "CREDENTIAL_EXISTS");
    assert.match(e.message, /other values: weather\/api_key; nothing was imported$/);
    assert.match(refused.stderr, /--overwrite/);
    assert.equal(await versions("weather/api_key"), 1, "no version added");
    assert.equal(await get("weather/api_key"), existing);
    assert.equal((await kh(s, ["vault", "get", "maps/api_key"])).code, 1, "all or nothing");

    const forced = await khOk(s, ["vault", "migrate-fernet", file, "--key-file", keyFile, "--overwrite"]);
    assert.match(forced.stdout, /^imported 4 secrets from the legacy store\n/);
    assert.equal(await versions("weather/api_key"), 2);
    assert.equal(await get("weather/api_key"), legacy.api_keys.weather);
    assert.equal(await get("github/oauth_access_token"), legacy.oauth_tokens.github.access_token);
    assert.equal(await get("github/oauth_expires_in"), "3600");

    const vaultFile = () => readFileSync(join(s.state, "vault", "vault.json"), "utf8");
    const stored = vaultFile();
    for (const extra of [[], ["--overwrite"]]) {
      const again = await khOk(s, ["vault", "migrate-fernet", file, "--key-file", keyFile, ...extra]);
      assert.match(
        again.stdout,
        /^nothing changed: the 4 secrets from the legacy store are already stored with these values\n/,
      );
      assert.equal(await versions("weather/api_key"), 2, "no third version");
      assert.equal(await versions("maps/api_key"), 1);
    }
    assert.equal(vaultFile(), stored, "no commit: the vault's file is byte for byte the same");

    // A grown store: only what is new is written; what is already there is counted, not re-added.
    const grown = legacyFile("grown.enc", {
      ...legacy,
      api_keys: { ...legacy.api_keys, news: canary("news") },
    });
    const more = await khOk(s, ["vault", "migrate-fernet", grown, "--key-file", keyFile]);
    assert.match(
      more.stdout,
      /^imported 1 secrets from the legacy store \(4 already stored with these values\)\n/,
    );
    assert.equal(await versions("weather/api_key"), 2);
    assertNoCanaryIn(s);
  });

  it("vault import-env follows the same rule", async () => {
    const env = join(s.root, "app.env");
    writeFileSync(env, `API_TOKEN=${canary("env1")}\n`, { mode: 0o600 });
    await khOk(s, ["vault", "import-env", env, "--ns", "app2"]);
    const again = await khOk(s, ["vault", "import-env", env, "--ns", "app2"]);
    assert.match(again.stdout, /^nothing changed/);
    writeFileSync(env, `API_TOKEN=${canary("env2")}\n`, { mode: 0o600 });
    const r = await kh(s, ["vault", "import-env", env, "--ns", "app2"]);
    assert.equal(firstErrorLine(r.stderr).code, "CREDENTIAL_EXISTS");
    assert.equal(await versions("app2/api_token"), 1);
  });

  it("--help gives the name mapping", async () => {
    const help = (await khOk(s, ["vault", "migrate-fernet", "--help"])).stdout;
    assert.match(help, /api_keys\.SERVICE becomes SERVICE\/api_key/);
    assert.match(help, /oauth_tokens\.SERVICE\.FIELD becomes SERVICE\/oauth_FIELD/);
    assert.match(help, /--overwrite/);
  });
});

describe("one newline rule: set, import, vault put", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld("keyhold-newline-");
    await khOk(s, ["vault", "init"]);
  });
  after(() => s.cleanup());

  // value as written → value as stored by default, and with --keep-newline.
  const endings = [
    ["\n", ""],
    ["\r\n", ""],
    ["\n\n", "\n"],
    ["", ""],
  ] as const;

  let n = 0;
  for (const [ending, kept] of endings) {
    for (const keep of [false, true]) {
      const label = `${JSON.stringify(ending)}${keep ? " with --keep-newline" : ""}`;
      it(`a value ending in ${label}`, async () => {
        const v = canary("nl");
        const written = `${v}${ending}`;
        const want = keep ? written : `${v}${kept}`;
        const flag = keep ? ["--keep-newline"] : [];
        const i = n++;
        await khOk(s, ["set", `set_${i}`, ...flag], written);
        assert.equal((await khOk(s, ["get", `set_${i}`])).stdout, want, "set from stdin");

        const file = join(s.root, `value_${i}`);
        writeFileSync(file, written, { mode: 0o600 });
        await khOk(s, ["import", `import_${i}`, file, ...flag]);
        assert.equal((await khOk(s, ["get", `import_${i}`])).stdout, want, "import");

        await khOk(s, ["vault", "put", `nl/stdin_${i}`, ...flag], written);
        assert.equal((await khOk(s, ["vault", "get", `nl/stdin_${i}`])).stdout, want, "vault put (stdin)");
        await khOk(s, ["vault", "put", `nl/file_${i}`, "--from-file", file, ...flag]);
        assert.equal((await khOk(s, ["vault", "get", `nl/file_${i}`])).stdout, want, "vault put --from-file");

        const shred = join(s.root, `shred_${i}`);
        writeFileSync(shred, written, { mode: 0o600 });
        await khOk(s, ["import", `shred_${i}`, shred, "--shred", ...flag]);
        assert.equal(existsSync(shred), false, "shredded once the stored value read back");
        assert.equal((await khOk(s, ["get", `shred_${i}`])).stdout, want, "import --shred");
        rmSync(file);
      });
    }
  }

  it("leaks no value", () => assertNoCanaryIn(s));
});
