/**
 * The newline rule in the library: loadSecret (every source), loadSecretSync and loadSecretFile
 * drop exactly one final "\n" or "\r\n" unless keepNewline, the way `keyhold set` and `import`
 * store values. And loadSecretFile checks a file named directly as strictly as a NAME_FILE.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  clearSecretCache,
  loadSecret,
  loadSecretFile,
  loadSecretSync,
  SecretError,
} from "../../src/index.js";
import { encryptCredential } from "../../src/systemd/index.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";

const code = (c: string) => (e: unknown) => e instanceof SecretError && e.code === c;

/** value as written → as loaded by default (keepNewline gives it as written). */
const ENDINGS = [
  ["\n", ""],
  ["\r\n", ""],
  ["\n\n", "\n"],
  ["", ""],
] as const;

describe("loadSecret and loadSecretFile: one final newline dropped unless keepNewline", () => {
  let s: Scratch;
  const value = makeCanary("token");
  before(() => {
    s = makeScratch("keyhold-newline-lib-");
    mkdirSync(s.store, { mode: 0o700 });
  });
  after(() => {
    clearSecretCache();
    s.cleanup();
  });

  ENDINGS.forEach(([ending, kept], i) => {
    const written = `${value}${ending}`;
    it(`a value ending in ${JSON.stringify(ending)}, from each source`, async () => {
      const name = `token_${i}`;
      const credDir = join(s.root, `credentials_${i}`);
      mkdirSync(credDir, { mode: 0o700 });
      writeFileSync(join(credDir, name), written, { mode: 0o400 });
      const pointed = join(s.root, `pointed_${i}`);
      writeFileSync(pointed, written, { mode: 0o600 });
      const ct = await encryptCredential(name, Buffer.from(written), { env: s.env, withKey: "host" });
      writeFileSync(join(s.store, name), ct, { mode: 0o600 });

      const sources: Record<string, NodeJS.ProcessEnv> = {
        "credentials-directory": { ...s.env, CREDENTIALS_DIRECTORY: credDir },
        NAME_FILE: { ...s.env, [`TOKEN_${i}_FILE`]: pointed },
        credstore: s.env,
      };
      for (const [source, env] of Object.entries(sources)) {
        for (const cache of [false, true]) {
          const loaded = await loadSecret(name, { env, cache });
          assert.equal(loaded.expose(), `${value}${kept}`, `${source}, default`);
          // The value the application compares with is the one typed: echo's newline is not part of it.
          assert.equal(loaded.verify(value), kept === "", `${source}: verify(token)`);
          const exact = await loadSecret(name, { env, cache, keepNewline: true });
          assert.equal(exact.expose(), written, `${source}, keepNewline (cache ${cache})`);
          assert.equal(loadSecretSync(name, { env, cache }).expose(), `${value}${kept}`, `${source}, sync`);
          assert.equal(loadSecretSync(name, { env, cache, keepNewline: true }).expose(), written);
        }
        clearSecretCache();
      }
      assert.equal((await loadSecretFile(pointed)).expose(), `${value}${kept}`, "loadSecretFile");
      assert.equal((await loadSecretFile(pointed, { keepNewline: true })).expose(), written);
    });
  });

  it("loadSecretFile reads a file written with echo as the value typed", async () => {
    const path = join(s.root, "echoed");
    execFileSync("sh", ["-c", 'umask 077; printf "%s\\n" "$V" > "$P"'], { env: { V: value, P: path } });
    const token = await loadSecretFile(path);
    assert.equal(token.byteLength, value.length);
    assert.ok(token.verify(value));
  });

  it("loadSecretFile refuses what a NAME_FILE refuses, and never says the value", async () => {
    const open = join(s.root, "open");
    writeFileSync(open, value, { mode: 0o644 });
    chmodSync(open, 0o644);
    const link = join(s.root, "link");
    symlinkSync(join(s.root, "pointed_0"), link);
    const fifo = join(s.root, "fifo");
    execFileSync("mkfifo", ["-m", "600", fifo]);
    const cases: [string, string][] = [
      [open, "PERMISSIONS_TOO_OPEN"],
      [link, "SYMLINK_REFUSED"],
      [fifo, "NOT_A_FILE"],
      [s.root, "NOT_A_FILE"],
      [join(s.root, "missing"), "FILE_NOT_FOUND"],
      ["relative/token", "PATH_VALIDATION_FAILED"],
      [`${s.root}/../x`, "PATH_VALIDATION_FAILED"],
    ];
    if (process.geteuid?.() === 0) {
      const other = join(s.root, "other");
      writeFileSync(other, value, { mode: 0o600 });
      chownSync(other, 12345, 12345);
      cases.push([other, "WRONG_OWNER"]);
    }
    for (const [path, expected] of cases) {
      await assert.rejects(loadSecretFile(path), (e: unknown) => {
        assert.ok(code(expected)(e), `${path}: ${String(e)}`);
        assert.ok(!(e as Error).message.includes(value), "no value in the error");
        return true;
      });
    }
  });
});
