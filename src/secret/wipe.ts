/**
 * The one way keyhold overwrites bytes that held a secret. Every buffer a value, key or plaintext
 * passed through is wiped with this, so a reader looking for a missed wipe greps for one name.
 *
 * `fill(0)` on a Uint8Array is a plain store the JIT cannot drop (the buffer stays reachable), which
 * is all JavaScript can promise; keys that live in sodium's guarded memory are wiped by sodium's own
 * `sodium_memzero` in vault/crypto.ts, which calls this for ordinary buffers.
 */
export function wipe(...buffers: ReadonlyArray<Wipeable | undefined | null>): void {
  for (const buffer of buffers) if (buffer != null && buffer.length > 0) buffer.fill(0);
}

/**
 * What can hold secret bytes: a buffer, the 32-bit words of a hash state (the scanner's HMAC
 * midstates), or the plain array of numbers a native binding hands a key back in (the keyring).
 */
export type Wipeable = Uint8Array | Int32Array | Uint32Array | number[];

/** Wipes every buffer of a list (chunks gathered from a stream). */
export function wipeAll(buffers: Iterable<Wipeable>): void {
  for (const buffer of buffers) wipe(buffer);
}

declare const keyBytesBrand: unique symbol;
/**
 * Bytes of a key: a Uint8Array that the type system keeps apart from ordinary data, so a key cannot
 * be passed where text is printed or written (`String(key)`, a log line, a JSON field) without a cast
 * that review sees. Only the module that creates or unwraps a key brands it.
 */
export type KeyBytes = Uint8Array & { readonly [keyBytesBrand]: true };

export function asKeyBytes(bytes: Uint8Array): KeyBytes {
  return bytes as KeyBytes;
}
