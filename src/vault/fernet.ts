import { createDecipheriv, createHmac, timingSafeEqual } from "node:crypto";
import { Secret, SecretError, wipe } from "../secret/index.js";
import { checkPart, type SecretRef } from "./refs.js";

/*
 * Reading the legacy store (the predecessor of the vault): one Fernet token
 * (https://github.com/fernet/spec, version 0x80) holding JSON {"api_keys": {service: key},
 * "oauth_tokens": {service: {field: value}}}. Token = base64url(0x80 ‖ timestamp u64be ‖ IV 16 ‖
 * AES-128-CBC ciphertext ‖ HMAC-SHA256 32), key = base64url(signing key 16 ‖ encryption key 16).
 * Verified in the spec's order: decode, version, age (TTL, clock skew), HMAC (constant time),
 * and only then decrypt and unpad. test/vectors/fernet/ holds the spec's own vectors.
 */

/** How far a token's timestamp may be ahead of this host's clock, as the spec's reference implementations allow. */
export const FERNET_MAX_CLOCK_SKEW_SECONDS = 60;

const VERSION = 0x80;
const HEADER = 1 + 8 + 16; // version, timestamp, IV
const MAC = 32;
const BLOCK = 16;

export interface FernetOptions {
  /** The store's time-to-live: a token made longer ago than this is refused (EXPIRED). */
  ttlSeconds?: number;
  /** The current time; default the host's clock. */
  now?: Date;
}

/**
 * base64url (RFC 4648 section 5) and nothing else: the URL-safe alphabet, "=" padding only as
 * padding, no white space inside, and the canonical encoding of its bytes. A file's final line
 * break is not part of the text.
 */
function fromBase64Url(text: string, what: string): Buffer {
  const clean = text.replace(/\r?\n$/, "");
  const bad = () =>
    new SecretError("INVALID_FORMAT", `the ${what} is not base64url text`, {
      hint: "Fernet uses the URL-safe alphabet A-Z a-z 0-9 - _ (not + or /)",
    });
  const m = /^([A-Za-z0-9_-]*)(={0,2})$/.exec(clean);
  if (m === null) throw bad();
  const body = m[1] as string;
  if (body.length % 4 === 1 || (m[2] !== "" && clean.length % 4 !== 0)) throw bad();
  const bytes = Buffer.from(body, "base64url");
  if (bytes.toString("base64url") !== body) throw bad(); // leftover bits set: not what an encoder writes
  return bytes;
}

/**
 * Decrypts one Fernet token as the spec verifies it. Coded errors, never a value: INVALID_FORMAT
 * (not base64url, not version 0x80, too short, ciphertext not whole blocks, a timestamp more
 * than 60 s ahead of now), EXPIRED (older than `ttlSeconds`), DECRYPT_FAILED (the HMAC does not
 * verify with this key, or the padding is wrong).
 */
export function decryptFernet(key: Secret, token: string, options: FernetOptions = {}): Secret {
  const k = fromBase64Url(key.expose(), "Fernet key");
  try {
    if (k.length !== 32) throw new SecretError("INVALID_FORMAT", "a Fernet key is 32 bytes in base64url");
    const raw = fromBase64Url(token, "Fernet token");
    if (raw.length < 1 || raw[0] !== VERSION)
      throw new SecretError("INVALID_FORMAT", "not a Fernet token: the version byte is not 0x80");
    // At least one ciphertext block: PKCS7 padding always adds 1 to 16 bytes.
    const ciphertextBytes = raw.length - HEADER - MAC;
    if (ciphertextBytes <= 0)
      throw new SecretError("INVALID_FORMAT", `the Fernet token is too short (${raw.length} bytes)`);
    if (ciphertextBytes % BLOCK !== 0)
      throw new SecretError(
        "INVALID_FORMAT",
        "the Fernet token's ciphertext is not a whole number of 16-byte blocks",
      );
    checkAge(raw.readBigUInt64BE(1), options);
    const signed = raw.subarray(0, raw.length - MAC);
    const mac = createHmac("sha256", k.subarray(0, 16)).update(signed).digest();
    if (!timingSafeEqual(mac, raw.subarray(raw.length - MAC))) {
      throw new SecretError("DECRYPT_FAILED", "the Fernet token does not verify with this key", {
        hint: "check that the key file belongs to this store",
      });
    }
    const decipher = createDecipheriv("aes-128-cbc", k.subarray(16), raw.subarray(1 + 8, HEADER));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(raw.subarray(HEADER, raw.length - MAC)), decipher.final()]);
    } catch {
      throw new SecretError(
        "DECRYPT_FAILED",
        "the Fernet token verifies but does not decrypt: its padding is wrong",
      );
    }
    return Secret.fromBytes(plain, { wipeSource: true });
  } finally {
    wipe(k);
  }
}

/**
 * The spec's step 3 (a time-to-live, when the store used one) and, with it, the reference
 * implementations' clock-skew rule. Without a TTL the timestamp decides nothing, as in the
 * reference implementations: a migration must not refuse a store written on a host whose clock ran
 * ahead.
 */
function checkAge(stamp: bigint, options: FernetOptions): void {
  const now = BigInt(Math.floor((options.now ?? new Date()).getTime() / 1000));
  const made = () =>
    stamp <= 8_640_000_000_000n ? new Date(Number(stamp) * 1000).toISOString() : `${stamp} s`;
  if (options.ttlSeconds !== undefined && stamp + BigInt(options.ttlSeconds) < now) {
    throw new SecretError(
      "EXPIRED",
      `the Fernet token was made at ${made()}, more than its time-to-live of ${options.ttlSeconds} s ago`,
    );
  }
  if (options.ttlSeconds !== undefined && now + BigInt(FERNET_MAX_CLOCK_SKEW_SECONDS) < stamp) {
    throw new SecretError(
      "INVALID_FORMAT",
      `the Fernet token's timestamp (${made()}) is more than ${FERNET_MAX_CLOCK_SKEW_SECONDS} s ahead of this host's clock`,
      { hint: "check the clock of this host and of the one that wrote the store" },
    );
  }
}

export interface LegacyEntry {
  ref: SecretRef;
  value: Secret;
}

/**
 * The entries of a legacy store: api_keys.<service> → `<service>/api_key`; oauth_tokens.<service>.<field>
 * → `<service>/oauth_<field>` (non-string values as JSON). Names that are not valid vault names
 * fail the whole import before anything is written.
 */
export function legacyEntries(plaintext: Secret): LegacyEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(plaintext.expose());
  } catch {
    throw new SecretError("INVALID_FORMAT", "the legacy store is not JSON");
  }
  const d = doc as { api_keys?: unknown; oauth_tokens?: unknown };
  if (typeof d !== "object" || d === null || Array.isArray(d))
    throw new SecretError("INVALID_FORMAT", "the legacy store is not a JSON object");
  const out: LegacyEntry[] = [];
  const asValue = (v: unknown) => Secret.fromString(typeof v === "string" ? v : JSON.stringify(v));
  const objectOf = (v: unknown, what: string): Record<string, unknown> => {
    if (v === undefined) return {};
    if (typeof v !== "object" || v === null || Array.isArray(v))
      throw new SecretError("INVALID_FORMAT", `legacy store: ${what} is not an object`);
    return v as Record<string, unknown>;
  };
  for (const [service, key] of Object.entries(objectOf(d.api_keys, "api_keys"))) {
    out.push({ ref: { ns: checkPart(service, "namespace"), name: "api_key" }, value: asValue(key) });
  }
  for (const [service, fields] of Object.entries(objectOf(d.oauth_tokens, "oauth_tokens"))) {
    for (const [field, value] of Object.entries(objectOf(fields, `oauth_tokens.${service.slice(0, 40)}`))) {
      out.push({
        ref: { ns: checkPart(service, "namespace"), name: checkPart(`oauth_${field}`, "name") },
        value: asValue(value),
      });
    }
  }
  return out;
}
