import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { SecretError } from "./errors.js";
import { RedactedBytes } from "./redacted-bytes.js";
import { Secret } from "./secret.js";
import { wipe } from "./wipe.js";

export const SECRET_KEY_BYTES = 32;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/**
 * A 32-byte symmetric key. Same discipline as `Secret`: redacted everywhere, one way out
 * (`exposeBytes()`), wiped by `dispose()`.
 */
export class SecretKey extends RedactedBytes {
  private constructor(bytes: Buffer) {
    super(bytes, "key");
  }

  static fromBytes(bytes: Uint8Array, options: { wipeSource?: boolean } = {}): SecretKey {
    if (bytes.length !== SECRET_KEY_BYTES) {
      throw new SecretError(
        "INVALID_FORMAT",
        `key must be exactly ${SECRET_KEY_BYTES} bytes, got ${bytes.length}`,
      );
    }
    const own = Buffer.alloc(SECRET_KEY_BYTES);
    own.set(bytes);
    if (options.wipeSource) wipe(bytes);
    return new SecretKey(own);
  }

  /** Parses 64 hex characters; surrounding whitespace (a trailing newline) is allowed. */
  static fromHex(text: string): SecretKey {
    const trimmed = text.trim();
    if (!HEX_KEY.test(trimmed)) {
      throw new SecretError("INVALID_FORMAT", `invalid key format: expected 64 hex characters`);
    }
    const own = Buffer.alloc(SECRET_KEY_BYTES);
    own.write(trimmed, "hex");
    return new SecretKey(own);
  }

  static random(): SecretKey {
    return new SecretKey(randomBytes(SECRET_KEY_BYTES));
  }

  /**
   * HKDF-SHA256 (RFC 5869) with an empty salt, the token as input keying material and `label`
   * as info, so keys derived for different purposes from one token are independent.
   */
  static deriveFromToken(token: Secret | string | Uint8Array, label: string): SecretKey {
    const ikm =
      token instanceof Secret
        ? token.exposeBytes()
        : typeof token === "string"
          ? Buffer.from(token, "utf8")
          : token;
    if (ikm.length === 0) throw new SecretError("KEY_DERIVATION", "cannot derive a key from an empty token");
    if (label.length === 0)
      throw new SecretError("KEY_DERIVATION", "a domain label is required for key derivation");
    const out = Buffer.from(
      hkdfSync("sha256", ikm, Buffer.alloc(0), Buffer.from(label, "utf8"), SECRET_KEY_BYTES),
    );
    return new SecretKey(out);
  }

  exposeBytes(): Buffer {
    return this.live();
  }

  /** HMAC-SHA256 of `data` under this key. */
  hmac(data: string | Uint8Array): Buffer {
    return createHmac("sha256", this.exposeBytes()).update(data).digest();
  }

  equals(other: SecretKey): boolean {
    return timingSafeEqual(this.exposeBytes(), other.exposeBytes());
  }
}
