import { SecretError } from "../secret/index.js";
import { quoted } from "../secret/printable.js";
import { type GuardedKey, RECORD_KEY_MAX_BYTES, recordMac, type Sealed, sameBytes } from "./crypto.js";
import type { ProviderKind } from "./providers.js";
import { keyText, refText, type SecretRef } from "./refs.js";

/*
 * The records a vault persists and their envelope (docs/vault-format.md section 3): the body
 * shapes, and the pure functions that turn them into the text a backend stores and back. Nothing
 * here reads a store or holds a key; whoever calls passes the integrity key in.
 */

/**
 * Format 2 chains the heads, format 3 digests the store with one HMAC over every record's MAC
 * (docs/vault-format.md section 4); an older store is upgraded by its next commit.
 */
export const VAULT_FORMAT = 3;
/** Value versions a secret keeps; the oldest beyond this go with the commit that adds one. */
export const KEPT_VERSIONS = 10;

export interface RotationSchedule {
  master?: string;
  kek?: string;
  dek?: string;
}

/** A sealed box as a record holds it: nonce and ciphertext, base64. */
export interface Wrapped {
  n: string;
  c: string;
}

export interface MetaBody {
  format: number;
  storeId: string;
  created: string;
  master: { version: number; check: string; provider: ProviderKind; rotated: string };
  kek: number;
  keks: Array<{ v: number; created: string }>;
  ik: Wrapped & { kek: number };
  schedule: RotationSchedule;
  rotated: { kek?: string; dek?: string };
  /** Format 3: the checks of every master this store used before the current one, oldest first. */
  retired?: string[];
}

export interface DekRing {
  ns: string;
  current: number;
  deks: Array<Wrapped & { v: number; kek: number; created: string }>;
}

export interface ValueVersion extends Wrapped {
  v: number;
  dek: number;
  created: string;
  expires?: string;
}

export interface SecretBody {
  ns: string;
  name: string;
  current: number;
  versions: ValueVersion[];
}

export interface AuditSeal {
  seq: number;
  mac: string;
}

export interface HeadBody {
  /** Format 3 on: how `digest` is made (storeDigest). A head without it is format 1 or 2 (XOR). */
  format?: number;
  generation: number;
  count: number;
  digest: string;
  /** Format 2: the MAC of the head of generation − 1; null at `since`, where the chain starts. */
  prev?: string | null;
  /** Format 2: the first chained generation (1, or the commit that upgraded a format 1 store). */
  since?: number;
  /** Format 2: each host's last audit record sealed at a commit of its own, by host id. */
  seals?: Record<string, AuditSeal>;
  /** Format 1: the last writer's audit seal, whichever host that was. */
  audit?: AuditSeal | null;
  updated: string;
}

export type Body = object;

/** A record value as stored: `b` the body text, `mac` its MAC. */
export interface Envelope {
  b: string;
  mac: Buffer;
}

/**
 * Envelopes parsed from earlier reads of the store, by record key with the text they came from:
 * a commit reads every record, and most are the same text as last time (parsing is a pure
 * function of the text, so reusing it changes nothing the checks see).
 */
export type EnvelopeCache = Map<string, { text: string; env: Envelope }>;

export function vaultTampered(message: string): SecretError {
  return new SecretError("VAULT_TAMPERED", message, {
    hint: "the store was changed outside keyhold; restore it from a backup (docs/vault.md)",
  });
}

export function notFound(r: SecretRef): SecretError {
  return new SecretError("SECRET_NOT_FOUND", `no secret ${refText(r)} in the vault`, {
    hint: "list secrets with: keyhold vault ls",
  });
}

export function nowIso(now: () => Date): string {
  return now().toISOString();
}

export function b64(text: string): Buffer {
  return Buffer.from(String(text), "base64");
}

/** A sealed box in the form records keep it. */
export function wrapped(sealed: Sealed): Wrapped {
  return { n: sealed.nonce.toString("base64"), c: sealed.ciphertext.toString("base64") };
}

export function parseJson(text: string, key: string): unknown {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== "object" || v === null) throw new Error("not an object");
    return v;
  } catch {
    throw vaultTampered(`vault record ${keyText(key)} is malformed`);
  }
}

/** Half of a UTF-16 pair alone: UTF-8 has no bytes for it, so two keys would encode alike. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function parseEnvelope(key: string, text: string): Envelope {
  if (Buffer.byteLength(key, "utf8") > RECORD_KEY_MAX_BYTES || LONE_SURROGATE.test(key))
    throw vaultTampered(`vault record ${keyText(key)} has a key that cannot be MACed`);
  const env = parseJson(text, key) as { k?: unknown; b?: unknown; m?: unknown };
  if (typeof env.k !== "string" || typeof env.b !== "string" || typeof env.m !== "string")
    throw vaultTampered(`vault record ${keyText(key)} is malformed`);
  if (env.k !== key)
    throw vaultTampered(`vault record ${keyText(key)} holds the record of ${keyText(env.k)}`);
  const mac = b64(env.m);
  if (mac.length !== 32) throw vaultTampered(`vault record ${keyText(key)} is malformed`);
  return { b: env.b, mac };
}

/** The body of the envelope `text` stored under `key`, once its MAC under `ik` checks out. */
export function openEnvelope<T>(ik: GuardedKey, key: string, text: string): T {
  const env = parseEnvelope(key, text);
  if (!sameBytes(recordMac(ik, key, env.b), env.mac))
    throw vaultTampered(`vault record ${keyText(key)} failed its integrity check`);
  return parseJson(env.b, key) as T;
}

/** An envelope (section 3) for `body` (an object, or body text kept as it is) under `ik`. */
export function sealEnvelope(ik: GuardedKey, key: string, body: Body | string): { text: string; mac: Buffer } {
  const b = typeof body === "string" ? body : JSON.stringify(body);
  const mac = recordMac(ik, key, b);
  return { text: JSON.stringify({ k: key, b, m: mac.toString("base64") }), mac };
}

export function checkFormat(meta: MetaBody): void {
  const { format } = meta;
  if (typeof format !== "number" || !Number.isInteger(format) || format > VAULT_FORMAT || format < 1) {
    const shown = typeof format === "number" ? String(format) : quoted(String(format), 20);
    throw new SecretError("FORMAT_UNSUPPORTED", `vault format ${shown} is not supported by this keyhold`, {
      hint: "upgrade keyhold",
    });
  }
}
