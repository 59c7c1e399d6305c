// The credential file header (src/systemd/header.ts): any bytes a file may hold.
// Invariants: INVALID_FORMAT or a header whose fields are within the documented bounds, and
// looksLikeCredential agrees with readCredentialHeader.
import { looksLikeCredential, readCredentialHeader } from "../../dist/src/systemd/index.js";
import { check, expectCoded } from "../support.mjs";

const KEY_TYPES = new Set([
  "host",
  "host-scoped",
  "tpm2",
  "tpm2-with-public-key",
  "host+tpm2",
  "host+tpm2-scoped",
  "host+tpm2-with-public-key",
  "host+tpm2-with-public-key-scoped",
  "null",
  "unknown",
]);
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function fuzz(data) {
  let header;
  try {
    header = readCredentialHeader(data);
  } catch (err) {
    expectCoded(err, ["INVALID_FORMAT"]);
    check(!looksLikeCredential(data), "looksLikeCredential accepts what readCredentialHeader refuses");
    return;
  }
  check(looksLikeCredential(data), "looksLikeCredential refuses what readCredentialHeader accepts");
  check(KEY_TYPES.has(header.keyType), `key type ${header.keyType}`);
  check(GUID.test(header.keyTypeId), `key type id ${header.keyTypeId}`);
  check(Number.isInteger(header.ivSize) && header.ivSize >= 0 && header.ivSize <= 64, "iv size");
  check(Number.isInteger(header.tagSize) && header.tagSize >= 0 && header.tagSize <= 64, "tag size");
  // Only the first 64 bytes decide: what follows them cannot change the answer.
  if (data.length < 64) return;
  const longer = Buffer.concat([Buffer.from(data), Buffer.from("\u0000garbage")]);
  check(readCredentialHeader(longer).keyTypeId === header.keyTypeId, "trailing bytes change the header");
}
