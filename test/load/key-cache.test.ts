import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statfsSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type SealedKeyFile, sealKey, unsealKey } from "../../src/load/index.js";
import {
  forgetCachedKey,
  KEY_CACHE_DIR,
  type KeyCacheEntry,
  readCachedKey,
  storeCachedKey,
} from "../../src/load/key-cache.js";
import { isKeyholdError } from "../../src/secret/index.js";
import { cacheEntryOf } from "../support/key-cache.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { createTestUser, type TestUser } from "../support/users.js";

const RAMFS_MAGIC = 0x858458f6;

/*
 * The cache of keyhold's own unsealed keys (src/load/key-cache.ts), attacked the way its promises
 * could fail: another user reading it, an entry planted or swapped for a link, a key re-sealed or a
 * host key replaced under it, a key the TPM sealed, the switch that turns it off.
 */
describe("the unsealed-key cache (src/load/key-cache.ts)", () => {
  let s: Scratch;
  let user: TestUser;
  let n = 0;
  const used: SealedKeyFile[] = [];
  const fresh = (): SealedKeyFile => {
    const file: SealedKeyFile = { name: "keyhold.audit-key", encoding: "raw", path: join(s.state, `k${n++}`) };
    used.push(file);
    return file;
  };
  const entryOf = (file: SealedKeyFile): KeyCacheEntry => {
    const entry = cacheEntryOf(file, s.env);
    assert.ok(entry, "a key sealed with the host key has a cache entry");
    return entry;
  };
  const entryPath = (file: SealedKeyFile): string => {
    const entry = entryOf(file);
    return join(KEY_CACHE_DIR, `${entry.slot}.${entry.version}`);
  };
  /** What the cache holds for `file`, opened with the host key. */
  const cachedOf = (file: SealedKeyFile) => readCachedKey(entryOf(file), 1024);
  const slotEntries = (file: SealedKeyFile): string[] => {
    const slot = entryPath(file).slice(KEY_CACHE_DIR.length + 1).split(".")[0] as string;
    return readdirSync(KEY_CACHE_DIR).filter((e) => e.startsWith(`${slot}.`) || e.startsWith(`.${slot}.`));
  };
  async function sealed(key = randomBytes(32)): Promise<{ file: SealedKeyFile; key: Buffer }> {
    const file = fresh();
    await sealKey(file, key, { env: s.env, withKey: "host" });
    return { file, key };
  }
  async function unsealed(file: SealedKeyFile, env = s.env): Promise<Buffer> {
    const k = await unsealKey(file, { env });
    assert.ok(k);
    return Buffer.from(k.exposeBytes());
  }

  before(() => {
    s = makeScratch("keyhold-key-cache-");
    mkdirSync(s.state, { mode: 0o700 });
    user = createTestUser("keycache");
  });
  after(() => {
    for (const file of used) forgetCachedKey(file.name, file.path); // the host's cache, not the scratch's
    user.remove();
    s.cleanup();
  });

  it("keeps an unsealed key on root's ramfs, 0400 in a 0700 directory, where another user cannot reach it", async () => {
    const { file, key } = await sealed();
    assert.deepEqual(await unsealed(file), key);
    const path = entryPath(file);
    const dir = lstatSync(KEY_CACHE_DIR);
    assert.equal(dir.uid, 0);
    assert.equal(dir.mode & 0o7777, 0o700);
    assert.equal(statfsSync(KEY_CACHE_DIR).type, RAMFS_MAGIC, "never on a disk, never swapped");
    const st = lstatSync(path);
    assert.equal(st.uid, 0);
    assert.equal(st.mode & 0o7777, 0o400);
    assert.deepEqual(cachedOf(file), key);
    assert.ok(!readFileSync(path).includes(key), "kept sealed with the host key, never as it is");
    for (const args of [["cat", path], ["ls", KEY_CACHE_DIR]]) {
      const r = spawnSync(user.prefix[0] as string, [...user.prefix.slice(1), ...args], { encoding: "utf8" });
      assert.notEqual(r.status, 0, `${args[0]} as another user must fail`);
      assert.match(r.stderr, /Permission denied/);
    }
  });

  it("answers from the cache once it holds the key: what root keeps there with the host key is what unsealKey returns", async () => {
    const { file, key } = await sealed();
    assert.deepEqual(await unsealed(file), key);
    // The entry replaced by one sealed with the host key: proof that the second unseal read the cache.
    const path = entryPath(file);
    const marker = randomBytes(32);
    unlinkSync(path);
    await storeCachedKey(entryOf(file), marker);
    assert.deepEqual(await unsealed(file), marker);
    unlinkSync(path);
    assert.deepEqual(await unsealed(file), key);
  });

  it("never trusts a planted entry: a link is replaced, never followed; a wrong mode is replaced", async () => {
    const { file, key } = await sealed();
    const path = entryPath(file);
    // What is planted would open with the host key: only the link or the mode keeps it out.
    const plantable = async (): Promise<Buffer> => {
      await storeCachedKey(entryOf(file), randomBytes(32));
      const bytes = readFileSync(path);
      unlinkSync(path);
      return bytes;
    };
    const target = join(s.root, "planted");
    writeFileSync(target, await plantable(), { mode: 0o400 });
    const before = readFileSync(target);
    symlinkSync(target, path);
    assert.deepEqual(await unsealed(file), key, "the link is not read");
    assert.ok(lstatSync(path).isFile(), "the link was replaced by the real entry");
    assert.deepEqual(readFileSync(target), before, "the link's target is untouched");

    const planted = await plantable();
    writeFileSync(path, planted, { mode: 0o644 });
    assert.deepEqual(await unsealed(file), key, "an entry others could have read is not used");
    assert.equal(lstatSync(path).mode & 0o7777, 0o400);
    assert.deepEqual(cachedOf(file), key);
  });

  it("a key sealed anew at the same place drops the old one from the cache", async () => {
    const { file } = await sealed();
    await unsealed(file);
    const old = entryPath(file);
    assert.ok(existsSync(old));
    const next = randomBytes(32);
    await sealKey(file, next, { env: s.env, withKey: "host" });
    assert.ok(!existsSync(old), "the old key left the cache when the new one was sealed");
    assert.deepEqual(await unsealed(file), next);
    assert.deepEqual(slotEntries(file), [entryPath(file).slice(KEY_CACHE_DIR.length + 1)]);
  });

  it("a replaced host key is a miss: the sealed file then fails to decrypt, as without the cache", async () => {
    const other = makeScratch("keyhold-key-cache-host-");
    try {
      const file: SealedKeyFile = { name: "keyhold.audit-key", encoding: "raw", path: join(other.state, "k") };
      used.push(file);
      mkdirSync(other.state, { mode: 0o700 });
      await sealKey(file, randomBytes(32), { env: other.env, withKey: "host" });
      await unsealKey(file, { env: other.env });
      const hostKey = other.env.SYSTEMD_CREDENTIAL_SECRET as string;
      unlinkSync(hostKey);
      const fresh = spawnSync("systemd-creds", ["setup"], { env: other.env });
      assert.equal(fresh.status, 0, fresh.stderr.toString());
      await assert.rejects(
        unsealKey(file, { env: other.env }),
        (e) => isKeyholdError(e) && e.code === "DECRYPT_FAILED",
      );
    } finally {
      other.cleanup();
    }
  });

  it("never keeps a key sealed without the host key (here: no key at all), nor with KEYHOLD_KEY_CACHE=off", async () => {
    const file = fresh();
    const key = randomBytes(32);
    const r = spawnSync("systemd-creds", ["encrypt", `--name=${file.name}`, "--with-key=tpm2-absent", "-", file.path], {
      input: key,
      env: s.env,
    });
    assert.equal(r.status, 0, r.stderr.toString());
    chmodSync(file.path, 0o600);
    assert.deepEqual(await unsealed(file), key);
    assert.equal(
      cacheEntryOf(file, s.env),
      undefined,
    );

    const off = await sealed();
    assert.deepEqual(await unsealed(off.file, { ...s.env, KEYHOLD_KEY_CACHE: "off" }), off.key);
    assert.ok(!existsSync(entryPath(off.file)), "nothing kept with the cache off");
  });

  it("uses no directory that is not root's 0700: nothing is read from or written to it", async () => {
    const { file, key } = await sealed();
    chmodSync(KEY_CACHE_DIR, 0o755);
    try {
      assert.deepEqual(await unsealed(file), key);
      assert.ok(!existsSync(entryPath(file)), "nothing written to a directory others can list");
    } finally {
      chmodSync(KEY_CACHE_DIR, 0o700);
    }
  });

  it("refuses a KEYHOLD_KEY_CACHE value it does not know, before anything is decrypted or kept", async () => {
    const { file } = await sealed();
    for (const value of ["0", "of", "OFF", "no"]) {
      await assert.rejects(
        unsealKey(file, { env: { ...s.env, KEYHOLD_KEY_CACHE: value } }),
        (e) => isKeyholdError(e) && e.code === "USAGE",
      );
    }
  });
});
