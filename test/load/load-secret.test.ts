import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import { after, before, describe, it } from "node:test";
import {
  clearSecretCache,
  loadSecret,
  loadSecretKeyFile,
  loadSecretSync,
  SecretError,
} from "../../src/index.js";
import { encryptCredential } from "../../src/systemd/index.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";

const code = (c: string) => (e: unknown) => e instanceof SecretError && e.code === c;

describe("loadSecret resolution order", () => {
  let s: Scratch;
  let credDir: string;
  const canaries = { dir: makeCanary("dir"), file: makeCanary("file"), store: makeCanary("store") };

  before(async () => {
    s = makeScratch();
    credDir = join(s.root, "credentials");
    mkdirSync(credDir, { mode: 0o700 });
    mkdirSync(s.store, { mode: 0o700 });
    writeFileSync(join(credDir, "api_key"), canaries.dir, { mode: 0o400 });
    writeFileSync(join(s.root, "api_key.txt"), canaries.file, { mode: 0o600 });
    const ct = await encryptCredential("api_key", Buffer.from(canaries.store), {
      env: s.env,
      withKey: "host",
    });
    writeFileSync(join(s.store, "api_key"), ct, { mode: 0o600 });
  });
  after(() => {
    clearSecretCache();
    s.cleanup();
  });

  const opts = (env: NodeJS.ProcessEnv) => ({ env: { ...s.env, ...env }, cache: false });

  it("prefers $CREDENTIALS_DIRECTORY", async () => {
    const v = await loadSecret(
      "api_key",
      opts({ CREDENTIALS_DIRECTORY: credDir, API_KEY_FILE: join(s.root, "api_key.txt") }),
    );
    assert.equal(v.expose(), canaries.dir);
  });

  it("then the file named by NAME_FILE", async () => {
    const v = await loadSecret("api_key", opts({ API_KEY_FILE: join(s.root, "api_key.txt") }));
    assert.equal(v.expose(), canaries.file);
  });

  it("then the encrypted credstore through systemd-creds", async () => {
    const v = await loadSecret("api_key", opts({}));
    assert.equal(v.expose(), canaries.store);
    assert.equal(loadSecretSync("api_key", opts({})).expose(), canaries.store);
  });

  it("falls through a CREDENTIALS_DIRECTORY that lacks the name", async () => {
    const v = await loadSecret("api_key", opts({ CREDENTIALS_DIRECTORY: join(s.root, "host") }));
    assert.equal(v.expose(), canaries.store);
  });

  it("reports every place it looked, and no value", async () => {
    await assert.rejects(
      loadSecret("missing_key", opts({ CREDENTIALS_DIRECTORY: credDir })),
      (e: unknown) => {
        assert.ok(e instanceof SecretError && e.code === "CREDENTIAL_NOT_FOUND");
        assert.match(e.hint ?? "", /credentials\/missing_key/);
        return true;
      },
    );
  });

  it("decrypts once per process and hands back the same Secret", async () => {
    clearSecretCache();
    const env = { ...s.env };
    const [a, b] = await Promise.all([loadSecret("api_key", { env }), loadSecret("api_key", { env })]);
    assert.equal(a, b);
    assert.equal(await loadSecret("api_key", { env }), a);
    a.dispose();
    const c = await loadSecret("api_key", { env });
    assert.notEqual(c, a);
    assert.equal(c.expose(), canaries.store);
  });

  it("never shows the value when printed", async () => {
    const v = await loadSecret("api_key", opts({}));
    for (const text of [String(v), `${v}`, JSON.stringify(v), inspect(v)])
      assert.ok(!text.includes(canaries.store));
  });
});

describe("file checks", () => {
  let s: Scratch;
  before(() => {
    s = makeScratch();
  });
  after(() => s.cleanup());
  const load = (name: string, env: NodeJS.ProcessEnv) =>
    loadSecret(name, { env: { ...s.env, ...env }, cache: false });

  it("refuses group or world bits on a NAME_FILE", async () => {
    const path = join(s.root, "open.txt");
    writeFileSync(path, makeCanary(), { mode: 0o644 });
    chmodSync(path, 0o644);
    await assert.rejects(load("open", { OPEN_FILE: path }), code("PERMISSIONS_TOO_OPEN"));
    chmodSync(path, 0o640);
    await assert.rejects(load("open", { OPEN_FILE: path }), code("PERMISSIONS_TOO_OPEN"));
  });

  it("refuses a NAME_FILE owned by someone else", async () => {
    const path = join(s.root, "theirs.txt");
    writeFileSync(path, makeCanary(), { mode: 0o600 });
    chownSync(path, 65534, 65534);
    await assert.rejects(load("theirs", { THEIRS_FILE: path }), code("WRONG_OWNER"));
  });

  it("refuses a symbolic link without following it", async () => {
    const target = join(s.root, "target.txt");
    writeFileSync(target, makeCanary(), { mode: 0o600 });
    symlinkSync(target, join(s.root, "link.txt"));
    await assert.rejects(load("link", { LINK_FILE: join(s.root, "link.txt") }), code("SYMLINK_REFUSED"));
  });

  it("refuses relative and dot-dot paths", async () => {
    await assert.rejects(load("rel", { REL_FILE: "secrets/rel.txt" }), code("PATH_VALIDATION_FAILED"));
    await assert.rejects(load("rel", { REL_FILE: `${s.root}/../x/rel.txt` }), code("PATH_VALIDATION_FAILED"));
    await assert.rejects(
      load("rel", { CREDENTIALS_DIRECTORY: "run/credentials" }),
      code("PATH_VALIDATION_FAILED"),
    );
  });

  it("refuses files over 1 MiB", async () => {
    const path = join(s.root, "big.txt");
    writeFileSync(path, Buffer.alloc(1024 * 1024 + 1, 0x41), { mode: 0o600 });
    await assert.rejects(load("big", { BIG_FILE: path }), code("TOO_LARGE"));
  });

  it("refuses a directory", async () => {
    const path = join(s.root, "adir");
    mkdirSync(path);
    await assert.rejects(load("adir", { ADIR_FILE: path }), code("NOT_A_FILE"));
  });

  it("accepts group bits inside $CREDENTIALS_DIRECTORY (systemd 254+ ACL masks) but not world bits", async () => {
    const dir = join(s.root, "creds");
    mkdirSync(dir);
    const value = makeCanary();
    writeFileSync(join(dir, "svc"), value, { mode: 0o440 });
    chmodSync(join(dir, "svc"), 0o440);
    assert.equal((await load("svc", { CREDENTIALS_DIRECTORY: dir })).expose(), value);
    chmodSync(join(dir, "svc"), 0o444);
    await assert.rejects(load("svc", { CREDENTIALS_DIRECTORY: dir }), code("PERMISSIONS_TOO_OPEN"));
  });

  it("refuses invalid credential names before touching anything", async () => {
    for (const name of ["a/b", "a:b", "..", ".", "", "x".repeat(256), "ключ", "tab\there"]) {
      await assert.rejects(load(name, {}), code("INVALID_NAME"), name);
    }
  });

  it("reports a wrong embedded name as NAME_MISMATCH (a rotation that encrypted without --name)", async () => {
    mkdirSync(s.store, { recursive: true, mode: 0o700 });
    const ct = await encryptCredential("MY_API_KEY", Buffer.from(makeCanary()), {
      env: s.env,
      withKey: "host",
    });
    writeFileSync(join(s.store, "my_api_key"), ct, { mode: 0o600 });
    await assert.rejects(load("my_api_key", {}), code("NAME_MISMATCH"));
  });
});

describe("loadSecretKeyFile", () => {
  let s: Scratch;
  before(() => {
    s = makeScratch();
  });
  after(() => s.cleanup());

  it("loads 64 hex characters from a 0600 file", () => {
    const path = join(s.root, "seal-key");
    writeFileSync(path, `${"0f".repeat(32)}\n`, { mode: 0o600 });
    assert.equal(loadSecretKeyFile(path).exposeBytes().toString("hex"), "0f".repeat(32));
  });

  it("refuses a short key and an open file", () => {
    const short = join(s.root, "short-key");
    writeFileSync(short, "abcd", { mode: 0o600 });
    assert.throws(() => loadSecretKeyFile(short), code("INVALID_FORMAT"));
    const open = join(s.root, "open-key");
    writeFileSync(open, "0f".repeat(32), { mode: 0o644 });
    chmodSync(open, 0o644);
    assert.throws(() => loadSecretKeyFile(open), code("PERMISSIONS_TOO_OPEN"));
  });
});
