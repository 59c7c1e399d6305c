import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type SealedKeyFile, sealKey, unsealKey } from "../../src/load/index.js";
import { forgetCachedKey, KEY_CACHE_DIR, keyCacheEntry, readCachedKey } from "../../src/load/key-cache.js";
import { isKeyholdError } from "../../src/secret/index.js";
import { cacheEntryOf } from "../support/key-cache.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { makeVaultWorld } from "../vault/support.js";

/*
 * The cache of keyhold's own unsealed keys (src/load/key-cache.ts) attacked from where its claim
 * ("whoever can read the cache could decrypt the sealed file anyway") is weakest: a root process
 * that cannot read the host key (InaccessiblePaths=, a container sharing /run), a write that fails
 * or is killed half-way, and a vault master rotated under it.
 */

const LOAD_MODULE = fileURLToPath(new URL("../../src/load/index.js", import.meta.url));

/** Every file of the cache directory (entries and temporary files), by name. */
function cacheFiles(): string[] {
  try {
    return readdirSync(KEY_CACHE_DIR);
  } catch {
    return [];
  }
}

/**
 * Runs `script` (sh) as root in a mount namespace of its own where the host key reads as empty:
 * what InaccessiblePaths=/var/lib/systemd, or a container given /run but not /var/lib, leaves a
 * root process. $HK is the host key, $DIR the cache directory.
 */
function withoutHostKey(hostKey: string, script: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(
    "unshare",
    ["--mount", "--propagation", "private", "sh", "-c", `mount --bind /dev/null "$HK" && ${script}`],
    {
      env: { PATH: process.env.PATH, HK: hostKey, DIR: KEY_CACHE_DIR, ...env },
    },
  );
  assert.equal(r.status, 0, r.stderr.toString());
  return r;
}

describe("the unsealed-key cache, attacked (src/load/key-cache.ts)", () => {
  let s: Scratch;
  let n = 0;
  const hostKey = () => s.env.SYSTEMD_CREDENTIAL_SECRET as string;
  const used: SealedKeyFile[] = [];
  const fresh = (): SealedKeyFile => {
    const file: SealedKeyFile = {
      name: "keyhold.audit-key",
      encoding: "raw",
      path: join(s.state, `k${n++}`),
    };
    used.push(file);
    return file;
  };
  const slotOf = (file: SealedKeyFile): string => {
    const entry = cacheEntryOf(file, s.env);
    assert.ok(entry, "a key sealed with the host key has a cache entry");
    return entry.slot;
  };
  /** Entries and temporary files of `file`'s slot. */
  const slotFiles = (file: SealedKeyFile): string[] => {
    const slot = slotOf(file);
    return cacheFiles().filter((e) => e.startsWith(`${slot}.`) || e.startsWith(`.${slot}.`));
  };
  async function cached(): Promise<{ file: SealedKeyFile; key: Buffer }> {
    const file = fresh();
    const key = randomBytes(32);
    await sealKey(file, key, { env: s.env, withKey: "host" });
    const k = await unsealKey(file, { env: s.env });
    assert.deepEqual(Buffer.from(k?.exposeBytes() ?? []), key);
    assert.equal(slotFiles(file).length, 1, "the key is in the cache");
    return { file, key };
  }

  before(() => {
    s = makeScratch("keyhold-key-cache-attack-");
    mkdirSync(s.state, { mode: 0o700 });
  });
  after(() => {
    for (const file of used) forgetCachedKey(file.name, file.path); // the host's cache, not the scratch's
    s.cleanup();
  });

  it("a root process that cannot read the host key learns nothing of a key from the cache", async () => {
    const { file, key } = await cached();
    const r = withoutHostKey(
      hostKey(),
      // The sealed file is out of its reach: systemd-creds fails without the host key...
      `if systemd-creds decrypt --name="$NAME" "$SEALED" - >/dev/null 2>&1; then echo DECRYPTED; fi; ` +
        // ...and everything the cache directory holds is read.
        `for f in "$DIR"/* "$DIR"/.[!.]*; do [ -f "$f" ] && cat "$f"; done; true`,
      { NAME: file.name, SEALED: file.path, SYSTEMD_CREDENTIAL_SECRET: hostKey() },
    );
    assert.ok(!r.stdout.includes("DECRYPTED"), "the host key is out of this process's reach");
    assert.ok(!r.stdout.includes(key), "the cache gave it the key the sealed file would not");
    assert.ok(!r.stdout.includes(key.toString("hex")));
  });

  it("a root process that cannot read the host key cannot plant a key that keyhold then uses", async () => {
    const { file, key } = await cached();
    const planted = join(s.root, "planted");
    writeFileSync(planted, randomBytes(32), { mode: 0o400 });
    withoutHostKey(
      hostKey(),
      `for f in "$DIR"/"$SLOT".*; do rm -f "$f" && cp "$PLANTED" "$f" && chmod 0400 "$f"; done`,
      { SLOT: slotOf(file), PLANTED: planted },
    );
    const k = await unsealKey(file, { env: s.env });
    assert.deepEqual(Buffer.from(k?.exposeBytes() ?? []), key, "the planted key was not used");
  });

  it("a FIFO planted at a key's entry does not hang keyhold: the key is decrypted as without the cache", async () => {
    const file = fresh();
    const key = randomBytes(32);
    await sealKey(file, key, { env: s.env, withKey: "host" });
    const entry = cacheEntryOf(file, s.env);
    assert.ok(entry);
    // Planted by a root process that can write /run (no host key needed to learn the name: it lists the directory).
    assert.equal(
      spawnSync("mkfifo", ["-m", "0400", join(KEY_CACHE_DIR, `${entry.slot}.${entry.version}`)]).status,
      0,
    );
    const script = `const { unsealKey } = await import(${JSON.stringify(LOAD_MODULE)});
const k = await unsealKey(${JSON.stringify(file)}, { env: process.env });
process.stdout.write(Buffer.from(k.exposeBytes()).toString("hex"));`;
    // Bounded only so that a hang fails the test instead of stalling the suite.
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...s.env },
      encoding: "utf8",
      timeout: 60_000,
      killSignal: "SIGKILL",
    });
    assert.equal(r.signal, null, "keyhold hung opening the FIFO");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, key.toString("hex"));
  });

  it("a key handed in $CREDENTIALS_DIRECTORY (a caller's environment) is used by that command alone, never kept", async () => {
    const { file, key } = await cached();
    const handed = join(s.root, `handed-${n}`);
    mkdirSync(handed, { mode: 0o700 });
    const planted = randomBytes(32);
    writeFileSync(join(handed, file.name), planted, { mode: 0o400 });
    const k = await unsealKey(file, { env: { ...s.env, CREDENTIALS_DIRECTORY: handed } }, { handed: true });
    assert.deepEqual(
      Buffer.from(k?.exposeBytes() ?? []),
      planted,
      "the handed copy comes first, as documented",
    );
    const next = await unsealKey(file, { env: s.env });
    assert.deepEqual(
      Buffer.from(next?.exposeBytes() ?? []),
      key,
      "the next command without it gets the sealed key",
    );
  });

  it("a write that fails half-way (a file size limit the caller set, which sudo passes on) leaves nothing behind", async () => {
    const file = fresh();
    const key = randomBytes(32);
    await sealKey(file, key, { env: s.env, withKey: "host" });
    const script = `const { unsealKey } = await import(${JSON.stringify(LOAD_MODULE)});
const k = await unsealKey(${JSON.stringify(file)}, { env: process.env });
process.stdout.write(k === undefined ? "none" : "unsealed");`;
    // RLIMIT_FSIZE of 16 bytes: the cache's write stops with EFBIG (Node ignores SIGXFSZ).
    const r = spawnSync(
      "prlimit",
      ["--fsize=16", "--", process.execPath, "--input-type=module", "-e", script],
      {
        env: { ...s.env },
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "unsealed", "the key itself was unsealed");
    assert.deepEqual(slotFiles(file), [], "no temporary file (with half the key) left in the cache");
  });

  it("a temporary file a killed writer left is removed when the key is sealed anew", async () => {
    const { file } = await cached();
    const [entry] = slotFiles(file);
    // What kill -9 between the temporary file's creation and its rename leaves: root's, 0400.
    const leftover = join(KEY_CACHE_DIR, `.${entry}.${randomBytes(6).toString("hex")}`);
    writeFileSync(leftover, randomBytes(32), { mode: 0o400 });
    chmodSync(leftover, 0o400);
    await sealKey(file, randomBytes(32), { env: s.env, withKey: "host" });
    assert.deepEqual(slotFiles(file), [], "the old key's entry and the killed writer's file are gone");
  });

  it("a key sealed with a not-after time is refused once it has passed, as systemd-creds refuses it", async () => {
    const file = fresh();
    const key = randomBytes(32);
    await sealKey(file, key, { env: s.env, withKey: "host", notAfter: "+2s" });
    const k = await unsealKey(file, { env: s.env });
    assert.deepEqual(Buffer.from(k?.exposeBytes() ?? []), key, "unsealed while valid");
    assert.deepEqual(slotFiles(file), [], "a key that expires is never kept");
    // Until systemd-creds itself refuses the sealed file (its clock, not this test's).
    const refused = () =>
      spawnSync("systemd-creds", ["decrypt", `--name=${file.name}`, file.path, "-"], { env: s.env })
        .status !== 0;
    for (let i = 0; i < 100 && !refused(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(refused(), "the sealed key expired");
    await assert.rejects(
      unsealKey(file, { env: s.env }),
      (e) => isKeyholdError(e) && e.code === "EXPIRED",
      "the cache answered with a key whose time had passed",
    );
  });

  it("a key sealed anew while another keyhold still decrypts the old one does not come back into the cache", async () => {
    const file = fresh();
    await sealKey(file, randomBytes(32), { env: s.env, withKey: "host" });
    const old = readFileSync(file.path);
    // The real systemd-creds, started only once the gate is opened: the slow keyhold has read the
    // old sealed file and waits for its decrypt while the key is sealed anew.
    const gate = join(s.root, `gate-${n}`);
    assert.equal(spawnSync("mkfifo", [gate]).status, 0);
    const gated = join(s.root, `gated-systemd-creds-${n}`);
    writeFileSync(gated, '#!/bin/sh\nread _ < "$GATE"\nexec systemd-creds "$@"\n', { mode: 0o700 });
    const slow = unsealKey(file, { env: { ...s.env, GATE: gate }, binary: gated });
    await sealKey(file, randomBytes(32), { env: s.env, withKey: "host" });
    writeFileSync(gate, "go\n");
    assert.ok(await slow, "the slow keyhold unsealed the key it had read");
    const stale = keyCacheEntry({
      name: file.name,
      path: file.path,
      sealed: old,
      maxBytes: 1024,
      env: s.env,
    });
    assert.ok(stale);
    assert.equal(readCachedKey(stale, 1024), undefined, "the key sealed over came back into the cache");
  });

  it("a rotated vault master leaves the cache with the rotation: the provider no longer holds it", async () => {
    const world = await makeVaultWorld("keyhold-key-cache-vault-");
    const current = join(world.scratch.store, "keyhold-vault-master");
    try {
      (await world.init()).close();
      const old = readFileSync(current);
      const vault = await world.open(); // unseals the master: now in the cache
      const oldEntry = keyCacheEntry({
        name: "keyhold-vault-master",
        path: current,
        sealed: old,
        maxBytes: 1024,
        env: world.scratch.env,
      });
      assert.ok(oldEntry);
      assert.ok(readCachedKey(oldEntry, 1024), "the old master is cached before the rotation");
      await vault.rotateMaster();
      vault.close();
      assert.notDeepEqual(readFileSync(current), old);
      assert.equal(
        readCachedKey(oldEntry, 1024),
        undefined,
        "the old master is still in the cache after the rotation",
      );
      const staged = keyCacheEntry({
        name: "keyhold-vault-master",
        path: `${current}.next`,
        sealed: readFileSync(current),
        maxBytes: 1024,
        env: world.scratch.env,
      });
      assert.ok(staged);
      assert.deepEqual(
        cacheFiles().filter((e) => e.includes(staged.slot)),
        [],
        "nothing is kept for the staged file, gone now",
      );
    } finally {
      for (const path of [current, `${current}.next`]) forgetCachedKey("keyhold-vault-master", path);
      forgetCachedKey("keyhold.audit-key", join(world.scratch.state, "keyhold.audit-key"));
      world.cleanup();
    }
  });
});
