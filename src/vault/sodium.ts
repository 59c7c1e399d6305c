import { createRequire } from "node:module";

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
  loaded ??= createRequire(import.meta.url)("sodium-native") as Sodium;
  return loaded;
}
