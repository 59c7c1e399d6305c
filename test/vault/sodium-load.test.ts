import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { prebuiltSodiumAddon } from "../../src/vault/sodium.js";

const require = createRequire(import.meta.url);
const sodiumModule = fileURLToPath(new URL("../../src/vault/sodium.js", import.meta.url));

/** Runs `script` in a fresh Node.js process and returns its JSON output. */
function fresh(script: string): unknown {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe("loading sodium-native (src/vault/sodium.ts)", () => {
  it("names the very addon file sodium-native's own loader picks on this host", () => {
    const own = fresh(`
      import { createRequire } from "node:module";
      const require = createRequire(${JSON.stringify(sodiumModule)});
      require("sodium-native");
      console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.endsWith(".node"))));
    `) as string[];
    assert.equal(own.length, 1, `sodium-native's loader loaded one addon: ${own.join(", ")}`);
    assert.equal(prebuiltSodiumAddon(require.resolve("sodium-native/binding.js")), own[0]);
  });

  it("loads it without require-addon, and the library works: a sealed message opens, a changed one does not", () => {
    const out = fresh(`
      import { createRequire } from "node:module";
      import { sodium } from ${JSON.stringify(sodiumModule)};
      const s = sodium();
      const key = Buffer.alloc(32, 7), nonce = Buffer.alloc(s.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, 1);
      const msg = Buffer.from("a message");
      const sealed = Buffer.alloc(msg.length + s.crypto_aead_xchacha20poly1305_ietf_ABYTES);
      s.crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, msg, null, null, nonce, key);
      const opened = Buffer.alloc(msg.length);
      s.crypto_aead_xchacha20poly1305_ietf_decrypt(opened, null, sealed, null, nonce, key);
      const text = opened.toString();
      sealed[0] ^= 1;
      let refused = false;
      try { s.crypto_aead_xchacha20poly1305_ietf_decrypt(opened, null, sealed, null, nonce, key); } catch { refused = true; }
      const cache = Object.keys(createRequire(${JSON.stringify(sodiumModule)}).cache);
      console.log(JSON.stringify({ opened: text, refused, requireAddon: cache.some((k) => k.includes("require-addon")) }));
    `) as { opened: string; refused: boolean; requireAddon: boolean };
    assert.deepEqual(out, { opened: "a message", refused: true, requireAddon: false });
  });
});
