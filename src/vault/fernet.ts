import { createDecipheriv, createHmac, timingSafeEqual } from "node:crypto";
import { Secret, SecretError } from "../secret/index.js";
import { checkPart, type SecretRef } from "./refs.js";

/*
 * Reading the legacy store (seed 003's predecessor): one Fernet token
 * (https://github.com/fernet/spec) holding JSON {"api_keys": {service: key}, "oauth_tokens":
 * {service: {field: value}}}. Token = base64url(0x80 ‖ timestamp u64be ‖ IV 16 ‖ AES-128-CBC
 * ciphertext ‖ HMAC-SHA256 32) with the key = base64url(signing key 16 ‖ encryption key 16).
 * The HMAC is checked (constant time) before anything is decrypted.
 */

function fromBase64Url(text: string): Buffer {
  const clean = text.trim();
  if (!/^[A-Za-z0-9_\-+/]*=*$/.test(clean)) throw new SecretError("INVALID_FORMAT", "not base64url text");
  return Buffer.from(clean.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}

/** Decrypts one Fernet token; any failure is DECRYPT_FAILED without detail. */
export function decryptFernet(key: Secret, token: string): Secret {
  const k = fromBase64Url(key.expose());
  if (k.length !== 32) throw new SecretError("INVALID_FORMAT", "a Fernet key is 32 bytes in base64url");
  let raw: Buffer;
  try {
    raw = fromBase64Url(token);
  } catch {
    throw new SecretError("INVALID_FORMAT", "the Fernet token is not base64url text");
  }
  if (raw.length < 1 + 8 + 16 + 16 + 32 || raw[0] !== 0x80 || (raw.length - 57) % 16 !== 0) {
    throw new SecretError("INVALID_FORMAT", "not a Fernet token (version 0x80)");
  }
  const signed = raw.subarray(0, raw.length - 32);
  const mac = createHmac("sha256", k.subarray(0, 16)).update(signed).digest();
  if (!timingSafeEqual(mac, raw.subarray(raw.length - 32))) {
    k.fill(0);
    throw new SecretError("DECRYPT_FAILED", "the Fernet token does not verify with this key", {
      hint: "check that the key file belongs to this store",
    });
  }
  const decipher = createDecipheriv("aes-128-cbc", k.subarray(16), raw.subarray(9, 25));
  try {
    const plain = Buffer.concat([decipher.update(raw.subarray(25, raw.length - 32)), decipher.final()]);
    return Secret.fromBytes(plain, { wipeSource: true });
  } catch {
    throw new SecretError("DECRYPT_FAILED", "the Fernet token does not decrypt");
  } finally {
    k.fill(0);
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
