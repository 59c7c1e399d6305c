import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { RedactedBytes } from "./redacted-bytes.js";
import { wipe } from "./wipe.js";

// verify() compares HMACs of both sides under a per-process random key, so the comparison takes
// the same time whatever the lengths of the two inputs and wherever they first differ.
const verifyKey = randomBytes(32);

function macOf(bytes: Uint8Array): Buffer {
  return createHmac("sha256", verifyKey).update(bytes).digest();
}

/**
 * A credential value held in a private buffer.
 *
 * - `expose()` / `exposeBytes()` are the only ways out; everything else (`toString`, `toJSON`,
 *   template strings, `util.inspect`, `console.log`) yields `[REDACTED]`.
 * - `verify()` compares in constant time, including inputs of different lengths.
 * - `dispose()` overwrites the buffer with zeros; later `expose()` calls throw `DISPOSED`.
 *
 * What JavaScript cannot wipe: strings returned by `expose()` (they are immutable and live until
 * the garbage collector reclaims them), copies a caller made, and bytes the kernel or a child
 * process already received. Prefer `exposeBytes()` and short-lived use where it matters.
 */
export class Secret extends RedactedBytes {
  private constructor(bytes: Buffer) {
    super(bytes, "secret");
  }

  /** Copies `bytes` into a buffer owned by the Secret; with `wipeSource` the input is zeroed. */
  static fromBytes(bytes: Uint8Array, options: { wipeSource?: boolean } = {}): Secret {
    const own = Buffer.alloc(bytes.length);
    own.set(bytes);
    if (options.wipeSource) wipe(bytes);
    return new Secret(own);
  }

  static fromString(value: string): Secret {
    // Buffer.alloc, not Buffer.from: small Buffer.from results share an 8 KiB pool with unrelated
    // data, which structuredClone or a pool-wide copy would carry along.
    const own = Buffer.alloc(Buffer.byteLength(value, "utf8"));
    own.write(value, "utf8");
    return new Secret(own);
  }

  get byteLength(): number {
    return this.live().length;
  }

  /** The value as UTF-8 text. The returned string cannot be wiped: keep it short-lived. */
  expose(): string {
    return this.live().toString("utf8");
  }

  /** A view of the live buffer (not a copy): do not keep it past the Secret's life. */
  exposeBytes(): Buffer {
    return this.live();
  }

  /** Constant-time comparison with a candidate; a different length is just "not equal". */
  verify(candidate: string | Uint8Array | Secret): boolean {
    const other =
      candidate instanceof Secret
        ? candidate.exposeBytes()
        : typeof candidate === "string"
          ? Buffer.from(candidate, "utf8") // compared and dropped; never kept
          : candidate;
    return timingSafeEqual(macOf(this.live()), macOf(other));
  }
}
