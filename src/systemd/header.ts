import { SecretError } from "../secret/index.js";

/**
 * The part of an encrypted credential that is readable without the key. systemd writes the
 * credential as base64 of:
 *
 *   struct encrypted_credential_header {   (little-endian)
 *     sd_id128_t id;        which key sealed it (the GUIDs below)
 *     le32_t key_size;      AES-256-GCM: 32
 *     le32_t block_size;
 *     le32_t iv_size;
 *     le32_t tag_size;
 *     uint8_t iv[];         then, for TPM2 keys, a tpm2_credential_header
 *   }
 *
 * The creation time, not-after time and embedded name sit inside the AES-GCM ciphertext: reading
 * them needs a decrypt. keyhold keeps its own non-secret metadata beside the store for `ls`.
 */
export type CredentialKeyType =
  | "host"
  | "host-scoped"
  | "tpm2"
  | "tpm2-with-public-key"
  | "host+tpm2"
  | "host+tpm2-scoped"
  | "host+tpm2-with-public-key"
  | "host+tpm2-with-public-key-scoped"
  | "null"
  | "unknown";

// The key-type GUIDs of systemd's creds-util.h (CRED_AES256_GCM_BY_*). "null" is what
// `--with-key=tpm2-absent` writes: no key at all, integrity only.
const KEY_TYPES: Record<string, CredentialKeyType> = {
  "5a1c6a86df9d4096b1d5a65e0862f19a": "host",
  "55b9ed1d38594d43a8319d2ebb332ac6": "host-scoped",
  "0c7cc07b117645919c4b0bea08bc20fe": "tpm2",
  faf7eb9341e3412ca1a436f95a29362f: "tpm2-with-public-key",
  "93a894094874449090caf2fc93cab553": "host+tpm2",
  ef4ac13679a9480ea7db68897f9f165d: "host+tpm2-scoped",
  af4950a849134eb1a73846304ff30c05: "host+tpm2-with-public-key",
  adbc4ca3efb64201ba881b6f2e4095ea: "host+tpm2-with-public-key-scoped",
  "058469daf6f54324800549da0f8ea2fb": "null",
};

export interface CredentialHeader {
  keyType: CredentialKeyType;
  keyTypeId: string;
  ivSize: number;
  tagSize: number;
}

const HEADER_BYTES = 32;
const BASE64_TEXT = /^[A-Za-z0-9+/=\s]+$/;

function guidText(raw: Buffer): string {
  const h = raw.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Reads the key type from a credential file's bytes, or throws INVALID_FORMAT if it is not one. */
export function readCredentialHeader(fileBytes: Uint8Array): CredentialHeader {
  // 48 base64 characters decode to the 36 bytes that hold the fixed header.
  const head = Buffer.from(fileBytes.subarray(0, 64)).toString("latin1").replace(/\s+/g, "");
  if (!BASE64_TEXT.test(head) || head.length < 48) {
    throw new SecretError("INVALID_FORMAT", "not an encrypted systemd credential (expected base64 text)");
  }
  const raw = Buffer.from(head.slice(0, 48), "base64");
  if (raw.length < HEADER_BYTES) throw new SecretError("INVALID_FORMAT", "credential header is truncated");
  const id = raw.subarray(0, 16);
  const keyType = KEY_TYPES[id.toString("hex")] ?? "unknown";
  const keySize = raw.readUInt32LE(16);
  const ivSize = raw.readUInt32LE(24);
  const tagSize = raw.readUInt32LE(28);
  // An unknown GUID with a plausible AES-256-GCM header is a credential of a key type this
  // version does not know (a newer systemd): "unknown", never mistaken for plaintext.
  if (keySize !== 32 || ivSize > 64 || tagSize > 64) {
    throw new SecretError("INVALID_FORMAT", "not an encrypted systemd credential (unknown header)");
  }
  return { keyType, keyTypeId: guidText(id), ivSize, tagSize };
}

/** True when the bytes look like an encrypted credential (header parses). */
export function looksLikeCredential(fileBytes: Uint8Array): boolean {
  try {
    readCredentialHeader(fileBytes);
    return true;
  } catch {
    return false;
  }
}
