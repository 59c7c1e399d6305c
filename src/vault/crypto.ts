import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { SecretError } from "../secret/index.js";
import { sodium } from "./sodium.js";

/*
 * The vault's cryptographic construction (docs/vault-format.md sections 1, 2 and 3):
 *
 *   KEK v        = HKDF-SHA256(master, salt = store id, info = "keyhold-vault/v1/kek" ‖ u32be(v))
 *   master check = HKDF-SHA256(master, salt = store id, info = "keyhold-vault/v1/master-check"), 16 bytes
 *   seal         = XChaCha20-Poly1305-IETF, random 24-byte nonce, AD built from length-prefixed fields
 *   record MAC   = HMAC-SHA256(IK, "keyhold-vault/v1/record" ‖ 0x00 ‖ lp(key) ‖ body)
 *   store digest = HMAC-SHA256(IK, "keyhold-vault/v1/digest" ‖ 0x00 ‖ lp(key) ‖ MAC ‖ …), records sorted by key
 *
 * Keys live in libsodium secure memory (sodium_malloc: guard pages, mlock, zeroed on free) and
 * are wiped with sodium_memzero when the vault is closed or the key is no longer needed. What
 * Node cannot guarantee (copies inside OpenSSL's HKDF/HMAC, strings) is written in docs/vault.md.
 */

export const KEY_BYTES = 32;
export const NONCE_BYTES = 24;
export const TAG_BYTES = 16;
export const STORE_ID_BYTES = 16;
export const MASTER_CHECK_BYTES = 16;
export const VALUE_MAX_BYTES = 1024 * 1024;

const LABEL_KEK = "keyhold-vault/v1/kek";
const LABEL_MASTER_CHECK = "keyhold-vault/v1/master-check";
const LABEL_VALUE = "keyhold-vault/v1/value";
const LABEL_DEK = "keyhold-vault/v1/dek";
const LABEL_IK = "keyhold-vault/v1/integrity-key";
const LABEL_PASS = "keyhold-vault/v1/passphrase";
const LABEL_RECORD = "keyhold-vault/v1/record";
const LABEL_DIGEST = "keyhold-vault/v1/digest";
/** lp() encodes a field's length in two bytes: a longer record key cannot be MACed. */
export const RECORD_KEY_MAX_BYTES = 0xffff;

/**
 * A 32-byte key in libsodium's guarded memory (locked, never swapped), wiped with `wipeKey`.
 * Ordinary buffers that held a value are wiped with `wipe()` from src/secret/wipe.ts.
 */
export type GuardedKey = Buffer;

// Secure memory is a scarce resource: every sodium_malloc costs guard pages and an mlock, and
// RLIMIT_MEMLOCK is often 8 MiB, past which libsodium returns nothing and Node aborts. So keys
// come out of slabs (one sodium_malloc of 4 KiB holds 128 keys) and values never use it: they
// end up in a Secret's ordinary buffer anyway. A slab is freed when no key in it is referenced.
const SLAB_BYTES = 4096;
let slab: Buffer | undefined;
let slabUsed = 0;

/** `size` bytes (at most 64) of libsodium secure memory, zeroed. */
export function secureBuffer(size: number): Buffer {
  if (size > 64) throw new Error("secure buffers are for keys only");
  if (slab === undefined || slabUsed + size > SLAB_BYTES) {
    slab = sodium().sodium_malloc(SLAB_BYTES);
    sodium().sodium_memzero(slab);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += size;
  return out;
}

/** A fresh random key in secure memory. */
export function randomKey(): GuardedKey {
  const key = secureBuffer(KEY_BYTES);
  sodium().randombytes_buf(key);
  return key;
}

export function randomBytesSodium(size: number): Buffer {
  const out = Buffer.alloc(size);
  sodium().randombytes_buf(out);
  return out;
}

/** Copies `bytes` into secure memory and wipes the source. */
export function toSecureKey(bytes: Uint8Array): GuardedKey {
  if (bytes.length !== KEY_BYTES)
    throw new SecretError("INVALID_FORMAT", `a vault key must be ${KEY_BYTES} bytes`);
  const key = secureBuffer(KEY_BYTES);
  key.set(bytes);
  wipeKey(bytes);
  return key;
}

/** sodium_memzero, for keys in guarded memory (and any buffer the vault's crypto made). */
export function wipeKey(bytes: Uint8Array | undefined): void {
  if (bytes !== undefined && bytes.length > 0) sodium().sodium_memzero(bytes);
}

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** lp(x) = u16be(length) ‖ x: fields cannot run into each other. */
function lp(x: string | Uint8Array): Buffer {
  const bytes = typeof x === "string" ? Buffer.from(x, "utf8") : Buffer.from(x);
  if (bytes.length > 0xffff) throw new SecretError("INVALID_FORMAT", "associated data field too long");
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function label(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, "ascii"), Buffer.from([0])]);
}

export function valueAd(
  storeId: Uint8Array,
  ns: string,
  name: string,
  version: number,
  dekVersion: number,
): Buffer {
  return Buffer.concat([
    label(LABEL_VALUE),
    lp(storeId),
    lp(ns),
    lp(name),
    u32be(version),
    u32be(dekVersion),
  ]);
}

export function dekAd(storeId: Uint8Array, ns: string, dekVersion: number, kekVersion: number): Buffer {
  return Buffer.concat([label(LABEL_DEK), lp(storeId), lp(ns), u32be(dekVersion), u32be(kekVersion)]);
}

export function integrityKeyAd(storeId: Uint8Array, kekVersion: number): Buffer {
  return Buffer.concat([label(LABEL_IK), lp(storeId), u32be(kekVersion)]);
}

export function passphraseAd(storeId: Uint8Array, masterVersion: number): Buffer {
  return Buffer.concat([label(LABEL_PASS), lp(storeId), u32be(masterVersion)]);
}

function hkdfInto(ikm: Uint8Array, salt: Uint8Array, info: Buffer, length: number): Buffer {
  const raw = new Uint8Array(hkdfSync("sha256", ikm, salt, info, length));
  const out = secureBuffer(length);
  out.set(raw);
  wipeKey(raw);
  return out;
}

export function deriveKek(master: GuardedKey, storeId: Uint8Array, version: number): GuardedKey {
  return hkdfInto(
    master,
    storeId,
    Buffer.concat([Buffer.from(LABEL_KEK, "ascii"), u32be(version)]),
    KEY_BYTES,
  );
}

export function masterCheck(master: GuardedKey, storeId: Uint8Array): Buffer {
  const check = hkdfInto(master, storeId, Buffer.from(LABEL_MASTER_CHECK, "ascii"), MASTER_CHECK_BYTES);
  return Buffer.from(check);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface Sealed {
  nonce: Buffer;
  ciphertext: Buffer;
}

/** Seals `plaintext`; `nonce` is only given by the vector generator, everything else draws a random one. */
export function seal(key: GuardedKey, plaintext: Uint8Array, ad: Uint8Array, nonce?: Uint8Array): Sealed {
  const n = nonce === undefined ? randomBytesSodium(NONCE_BYTES) : Buffer.from(nonce);
  const ciphertext = Buffer.alloc(plaintext.length + TAG_BYTES);
  sodium().crypto_aead_xchacha20poly1305_ietf_encrypt(ciphertext, plaintext, ad, null, n, key);
  return { nonce: n, ciphertext };
}

/**
 * Opens a sealed box (a key lands in secure memory, a value in an ordinary buffer to wipe). Any failure — wrong key,
 * wrong associated data, a flipped bit, a truncation — is the same DECRYPT_FAILED, naming only `what`.
 */
export function open(
  key: GuardedKey,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array,
  what: string,
): Buffer {
  if (nonce.length !== NONCE_BYTES || ciphertext.length < TAG_BYTES) {
    throw new SecretError("DECRYPT_FAILED", `cannot decrypt ${what}: malformed ciphertext`);
  }
  const length = ciphertext.length - TAG_BYTES;
  // Keys (32 bytes) go to secure memory; values to an ordinary buffer the caller wipes.
  const out = length === KEY_BYTES ? secureBuffer(length) : Buffer.alloc(length);
  try {
    sodium().crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, ciphertext, ad, nonce, key);
  } catch {
    throw new SecretError("DECRYPT_FAILED", `cannot decrypt ${what}: authentication failed`, {
      hint: "the ciphertext was changed, moved to another name or version, or the key is wrong",
    });
  }
  return out;
}

export function recordMac(integrityKey: GuardedKey, key: string, body: string): Buffer {
  return createHmac("sha256", integrityKey)
    .update(label(LABEL_RECORD))
    .update(lp(key))
    .update(Buffer.from(body, "utf8"))
    .digest();
}

export interface Argon2Params {
  ops: number;
  mem: number;
}

export function defaultArgon2Params(): Argon2Params {
  return { ops: sodium().crypto_pwhash_OPSLIMIT_MODERATE, mem: sodium().crypto_pwhash_MEMLIMIT_MODERATE };
}

/** The Argon2id key for a passphrase; parameters outside libsodium's bounds are refused. */
export async function passphraseKey(
  passphrase: Uint8Array,
  salt: Uint8Array,
  params: Argon2Params,
): Promise<GuardedKey> {
  const s = sodium();
  if (
    !Number.isInteger(params.ops) ||
    !Number.isInteger(params.mem) ||
    params.ops < s.crypto_pwhash_OPSLIMIT_MIN ||
    params.ops > s.crypto_pwhash_OPSLIMIT_MAX ||
    params.mem < s.crypto_pwhash_MEMLIMIT_MIN ||
    params.mem > 4 * 1024 * 1024 * 1024
  ) {
    throw new SecretError("INVALID_FORMAT", "argon2id parameters out of range");
  }
  if (salt.length !== s.crypto_pwhash_SALTBYTES)
    throw new SecretError("INVALID_FORMAT", "argon2id salt must be 16 bytes");
  if (passphrase.length === 0) throw new SecretError("EMPTY_VALUE", "the passphrase is empty");
  const out = secureBuffer(KEY_BYTES);
  await s.crypto_pwhash_async(out, passphrase, salt, params.ops, params.mem, s.crypto_pwhash_ALG_ARGON2ID13);
  return out;
}

/**
 * The digest of a whole store (format 3, docs/vault-format.md section 4): one HMAC under the
 * integrity key over every record's key and MAC, in the byte order of the keys' UTF-8. Each MAC
 * is 32 bytes and each key length-prefixed, so no two sets of records encode alike; without the
 * IK nobody can compute it for any set, however they combine records they have seen.
 */
export function storeDigest(integrityKey: GuardedKey, macs: ReadonlyMap<string, Uint8Array>): Buffer {
  // Sorting without a comparator orders by UTF-16 code units, which is the order of the UTF-8
  // bytes unless a key holds a code unit from U+D800 up (keyhold's own keys never do): then the
  // bytes are compared, which is slower.
  const keys = [...macs.keys()];
  if (keys.some((key) => /[\ud800-\uffff]/.test(key)))
    keys.sort((a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
  else keys.sort();
  let length = 0;
  for (const key of keys) length += 2 + Buffer.byteLength(key, "utf8") + 32;
  // The whole list in one buffer, for one HMAC update.
  const input = Buffer.allocUnsafe(length);
  let at = 0;
  for (const key of keys) {
    const mac = macs.get(key) as Uint8Array;
    if (mac.length !== 32) throw new SecretError("INVALID_FORMAT", "a record MAC is 32 bytes");
    const bytes = input.write(key, at + 2, "utf8");
    if (bytes > RECORD_KEY_MAX_BYTES) throw new SecretError("INVALID_FORMAT", "a record key is too long");
    input.writeUInt16BE(bytes, at);
    at += 2 + bytes;
    input.set(mac, at);
    at += 32;
  }
  return createHmac("sha256", integrityKey).update(label(LABEL_DIGEST)).update(input).digest();
}

/**
 * XOR `b` into `a` in place: the digest of format 1 and 2 stores, still checked when reading one.
 * It is linear, so anyone who has seen enough record versions can pick old ones that keep it:
 * a store is upgraded to storeDigest by its next commit (docs/vault-format.md section 8).
 */
export function xorInto(a: Buffer, b: Uint8Array): void {
  for (let i = 0; i < a.length; i++) a[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
}
