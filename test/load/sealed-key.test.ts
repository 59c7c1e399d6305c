import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type SealedKeyFile, sealKey, unsealKey } from "../../src/load/index.js";
import { isKeyholdError } from "../../src/secret/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";

const code = (c: string) => (e: unknown) => isKeyholdError(e) && e.code === c;

// The three keys keyhold seals for itself, each with the plaintext it has always been written with.
const KEYS: ReadonlyArray<{ what: string; name: string; encoding: "hex" | "raw" }> = [
  { what: "audit key", name: "keyhold.audit-key", encoding: "hex" },
  { what: "scan key", name: "keyhold.scan-key", encoding: "raw" },
  { what: "vault master", name: "keyhold-vault-master", encoding: "raw" },
];

const plaintextOf = (encoding: "hex" | "raw", key: Buffer): Buffer =>
  encoding === "hex" ? Buffer.from(key.toString("hex"), "latin1") : key;

describe("sealed keys (src/load/sealed-key.ts)", () => {
  let s: Scratch;
  let n = 0;
  const fresh = (name: string, encoding: "hex" | "raw"): SealedKeyFile => ({
    name,
    encoding,
    path: join(s.state, `${n++}-${name}`),
  });
  const creds = () => ({ env: s.env });

  /** Seals with systemd-creds itself, as earlier keyhold versions wrote these files. */
  function sealByHand(file: SealedKeyFile, plaintext: Buffer): void {
    const r = spawnSync("systemd-creds", ["encrypt", `--name=${file.name}`, "--with-key=host", "-", "-"], {
      input: plaintext,
      env: s.env,
    });
    assert.equal(r.status, 0, r.stderr.toString());
    writeFileSync(file.path, r.stdout, { mode: 0o600 });
  }

  function decryptByHand(file: SealedKeyFile): Buffer {
    const r = spawnSync("systemd-creds", ["decrypt", `--name=${file.name}`, "-", "-"], {
      input: readFileSync(file.path),
      env: s.env,
    });
    assert.equal(r.status, 0, r.stderr.toString());
    return r.stdout;
  }

  before(() => {
    s = makeScratch();
    mkdirSync(s.state, { recursive: true, mode: 0o700 });
  });
  after(() => s.cleanup());

  for (const k of KEYS) {
    it(`opens the ${k.what} as hosts already hold it (${k.encoding})`, async () => {
      const file = fresh(k.name, k.encoding);
      const bytes = randomBytes(32);
      sealByHand(file, plaintextOf(k.encoding, bytes));
      const key = await unsealKey(file, creds());
      assert.ok(key !== undefined);
      assert.ok(key.exposeBytes().equals(bytes));
      key.dispose();
    });

    it(`seals the ${k.what} in that same encoding, mode 0600`, async () => {
      const file = fresh(k.name, k.encoding);
      const bytes = randomBytes(32);
      await sealKey(file, bytes, creds());
      assert.equal(statSync(file.path).mode & 0o777, 0o600);
      assert.ok(decryptByHand(file).equals(plaintextOf(k.encoding, bytes)));
    });
  }

  it("a missing key is undefined; a key of the wrong size is INVALID_FORMAT", async () => {
    assert.equal(await unsealKey(fresh("keyhold.scan-key", "raw"), creds()), undefined);
    const short = fresh("keyhold.scan-key", "raw");
    sealByHand(short, randomBytes(31));
    await assert.rejects(unsealKey(short, creds()), code("INVALID_FORMAT"));
    await assert.rejects(
      sealKey(fresh("keyhold.scan-key", "raw"), randomBytes(16), creds()),
      code("INVALID_FORMAT"),
    );
  });

  it("takes a service's $CREDENTIALS_DIRECTORY copy first, only when asked to", async () => {
    const file = fresh("keyhold-vault-master", "raw");
    const sealed = randomBytes(32);
    const handed = randomBytes(32);
    sealByHand(file, sealed);
    const dir = join(s.root, `credentials-${n++}`);
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, file.name), handed, { mode: 0o400 });
    const env = { ...s.env, CREDENTIALS_DIRECTORY: dir };
    const first = await unsealKey(file, { env }, { handed: true });
    assert.ok(first?.exposeBytes().equals(handed));
    const own = await unsealKey(file, { env });
    assert.ok(own?.exposeBytes().equals(sealed));
    // An empty variable is no directory at all.
    const none = await unsealKey(file, { env: { ...s.env, CREDENTIALS_DIRECTORY: "" } }, { handed: true });
    assert.ok(none?.exposeBytes().equals(sealed));
  });

  it("a handed copy others can read is refused, not skipped for the sealed one", async () => {
    const file = fresh("keyhold-vault-master", "raw");
    sealByHand(file, randomBytes(32));
    const dir = join(s.root, `credentials-${n++}`);
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(join(dir, file.name), randomBytes(32), { mode: 0o644 });
    await assert.rejects(
      unsealKey(file, { env: { ...s.env, CREDENTIALS_DIRECTORY: dir } }, { handed: true }),
      code("PERMISSIONS_TOO_OPEN"),
    );
  });

  it("a sealed key file that is a symbolic link is refused (SYMLINK_REFUSED)", async () => {
    const target = fresh("keyhold.scan-key", "raw");
    sealByHand(target, randomBytes(32));
    const link = fresh("keyhold.scan-key", "raw");
    symlinkSync(target.path, link.path);
    await assert.rejects(unsealKey(link, creds()), code("SYMLINK_REFUSED"));
  });
});
