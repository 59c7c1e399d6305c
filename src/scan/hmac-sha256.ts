/*
 * HMAC-SHA256 (RFC 2104 over FIPS 180-4 SHA-256) for the scanner's hot loop.
 *
 * The stored-value search computes one HMAC per candidate span: tens of thousands per MiB of
 * text. Node's crypto pays a C++ round trip and several allocations per call; here the key's
 * inner and outer pad blocks are compressed once (the two "midstates"), and each candidate then
 * costs one or two compressions for the inner hash and one for the outer, in preallocated typed
 * arrays, without allocating. Recording (fingerprint-index.ts) uses node:crypto; the two are
 * tested equal for many lengths and keys (test/scan/fingerprint-index.test.ts).
 *
 * The midstates are key material: `dispose()` zeroes them.
 */

import { wipe } from "../secret/index.js";

const ZERO_BLOCK = new Uint8Array(64);

// prettier-ignore
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/** One SHA-256 compression of the 64-byte block at `bytes[off]` into `h`. */
function compress(h: Int32Array, w: Int32Array, bytes: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    w[i] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15]!;
    const b = w[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  let f = h[5]!;
  let g = h[6]!;
  let hh = h[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (hh + s1 + ch + K[i]! + w[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (s0 + maj) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + hh) | 0;
}

export class PrecomputedHmacSha256 {
  readonly #inner = new Int32Array(8);
  readonly #outer = new Int32Array(8);
  readonly #state = new Int32Array(8);
  readonly #w = new Int32Array(64);
  readonly #block = new Uint8Array(64);

  /** `key` of at most 64 bytes (the scan key is 32). */
  constructor(key: Uint8Array) {
    if (key.length > 64) throw new RangeError("HMAC keys longer than one block are not supported here");
    for (const [pad, mid] of [
      [0x36, this.#inner],
      [0x5c, this.#outer],
    ] as const) {
      this.#block.fill(pad);
      for (let i = 0; i < key.length; i++) this.#block[i] = key[i]! ^ pad;
      mid.set(IV);
      compress(mid, this.#w, this.#block, 0);
    }
    wipe(this.#block);
  }

  /** HMAC of `data[start..end)` into `out` (eight big-endian words, as signed 32-bit integers). */
  macInto(data: Uint8Array, start: number, end: number, out: Int32Array): void {
    const state = this.#state;
    const block = this.#block;
    const w = this.#w;
    state.set(this.#inner);
    let off = start;
    while (end - off >= 64) {
      compress(state, w, data, off);
      off += 64;
    }
    block.set(ZERO_BLOCK); // SHA-256 padding starts from a zero block
    const rem = end - off;
    for (let i = 0; i < rem; i++) block[i] = data[off + i]!;
    block[rem] = 0x80;
    if (rem >= 56) {
      compress(state, w, block, 0);
      block.set(ZERO_BLOCK);
    }
    // Message length in bits, counting the 64-byte pad block before the data.
    const bits = (64 + end - start) * 8;
    const high = Math.floor(bits / 0x100000000);
    const low = bits >>> 0;
    block[56] = high >>> 24;
    block[57] = high >>> 16;
    block[58] = high >>> 8;
    block[59] = high;
    block[60] = low >>> 24;
    block[61] = low >>> 16;
    block[62] = low >>> 8;
    block[63] = low;
    compress(state, w, block, 0);
    // Outer hash: the pad block (midstate) then the 32-byte inner digest, 96 bytes in all.
    block.set(ZERO_BLOCK);
    for (let i = 0; i < 8; i++) {
      const v = state[i]!;
      block[i * 4] = v >>> 24;
      block[i * 4 + 1] = v >>> 16;
      block[i * 4 + 2] = v >>> 8;
      block[i * 4 + 3] = v;
    }
    block[32] = 0x80;
    block[62] = 0x03; // 768 bits
    out.set(this.#outer);
    compress(out, w, block, 0);
    // What the candidate left in the state and the block goes with it.
    wipe(state, block);
  }

  /** The HMAC as lower-case hex (for tests and for building the lookup table). */
  hex(data: Uint8Array): string {
    const out = new Int32Array(8);
    this.macInto(data, 0, data.length, out);
    return wordsToHex(out);
  }

  dispose(): void {
    wipe(this.#inner, this.#outer);
  }
}

export function wordsToHex(words: Int32Array): string {
  let hex = "";
  for (const v of words) hex += (v >>> 0).toString(16).padStart(8, "0");
  return hex;
}

export function hexToWords(hex: string): Int32Array {
  const words = new Int32Array(8);
  for (let i = 0; i < 8; i++) words[i] = Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16) | 0;
  return words;
}
