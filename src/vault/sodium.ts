import { existsSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { sodiumNative } from "./sodium-native.js";

/**
 * The part of sodium-native the vault uses, typed here because the package ships no types.
 * Loaded lazily so that importing keyhold does not load the native addon unless the vault is used.
 */
export interface Sodium {
  sodium_malloc(size: number): Buffer & { secure?: boolean };
  sodium_memzero(buffer: Uint8Array): void;
  randombytes_buf(buffer: Uint8Array): void;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    ciphertext: Uint8Array,
    message: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    nonce: Uint8Array,
    key: Uint8Array,
  ): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(
    message: Uint8Array,
    nsec: null,
    ciphertext: Uint8Array,
    ad: Uint8Array | null,
    nonce: Uint8Array,
    key: Uint8Array,
  ): number;
  crypto_pwhash_async(
    out: Uint8Array,
    password: Uint8Array,
    salt: Uint8Array,
    opslimit: number,
    memlimit: number,
    algorithm: number,
  ): Promise<void>;
  crypto_aead_xchacha20poly1305_ietf_ABYTES: number;
  crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number;
  crypto_pwhash_ALG_ARGON2ID13: number;
  crypto_pwhash_SALTBYTES: number;
  crypto_pwhash_OPSLIMIT_MODERATE: number;
  crypto_pwhash_MEMLIMIT_MODERATE: number;
  crypto_pwhash_OPSLIMIT_MIN: number;
  crypto_pwhash_MEMLIMIT_MIN: number;
  crypto_pwhash_OPSLIMIT_MAX: number;
  crypto_pwhash_MEMLIMIT_MAX: number;
}

let loaded: Sodium | undefined;

export function sodium(): Sodium {
  loaded ??= loadSodium();
  return loaded;
}

/**
 * The prebuilt addon sodium-native's loader (require-addon) picks on this host, or undefined where
 * keyhold cannot say so for certain. require-addon resolves `prebuilds/<platform>-<arch>[-musl]/
 * sodium-native.node` through a general resolver whose modules cost more to load than the rest of
 * sodium-native together (about 12 ms of 27 on an idle 2-core machine); on glibc Linux the answer
 * is that one file, so keyhold names it. Musl hosts (require-addon's test: /etc/alpine-release)
 * and any other layout go through require-addon. test/vault/sodium-load.test.ts checks that both
 * pick the same file.
 */
export function prebuiltSodiumAddon(bindingPath: string): string | undefined {
  if (process.platform !== "linux" || existsSync("/etc/alpine-release")) return undefined;
  const addon = join(dirname(bindingPath), "prebuilds", `${process.platform}-${process.arch}`, "sodium-native.node");
  return existsSync(addon) ? addon : undefined;
}

function loadSodium(): Sodium {
  const require = createRequire(import.meta.url);
  try {
    const bindingPath = require.resolve("sodium-native/binding.js");
    const addon = prebuiltSodiumAddon(bindingPath);
    if (addon !== undefined && require.cache[bindingPath] === undefined) {
      // binding.js exports the addon require-addon loads; given it already, sodium-native's
      // index.js takes it from the module cache instead.
      const binding = new Module(bindingPath);
      binding.filename = bindingPath;
      binding.exports = require(addon);
      binding.loaded = true;
      require.cache[bindingPath] = binding;
    }
  } catch {
    // another layout: sodium-native loads itself
  }
  return sodiumNative() as Sodium;
}
