// Fernet tokens and the legacy store inside them (src/vault/fernet.ts).
// Mode 0: any text as a token under a fixed key. Invariant: INVALID_FORMAT or DECRYPT_FAILED
// (nobody without the key makes a token that verifies).
// Mode 1: any bytes encrypted by this file's own Fernet encoder (the spec, independently of
// keyhold). Invariants: decryptFernet returns exactly the bytes; legacyEntries of them is a list
// of valid vault names or INVALID_FORMAT / INVALID_NAME, and no value appears in its errors.
import { createCipheriv, createHmac } from "node:crypto";
import { decryptFernet, legacyEntries } from "../../dist/src/vault/index.js";
import { Secret } from "../../dist/src/secret/index.js";
import { assertNoCanary, check, expectCoded } from "../support.mjs";

const SIGNING = Buffer.alloc(16, 0x11);
const ENCRYPTION = Buffer.alloc(16, 0x22);
const KEY_TEXT = Buffer.concat([SIGNING, ENCRYPTION]).toString("base64url");
const NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

export function encrypt(plain, iv, time) {
  const cipher = createCipheriv("aes-128-cbc", ENCRYPTION, iv);
  const head = Buffer.alloc(9);
  head[0] = 0x80;
  head.writeBigUInt64BE(time, 1);
  const signed = Buffer.concat([head, iv, cipher.update(plain), cipher.final()]);
  const mac = createHmac("sha256", SIGNING).update(signed).digest();
  return Buffer.concat([signed, mac]).toString("base64url");
}

function checkEntries(plain) {
  const values = [];
  try {
    const doc = JSON.parse(plain.toString("utf8"));
    for (const group of [doc?.api_keys, ...Object.values(doc?.oauth_tokens ?? {})]) {
      if (group && typeof group === "object") {
        for (const v of Object.values(group)) if (typeof v === "string" && v.length >= 12) values.push(v);
      }
    }
  } catch {
    // not JSON: legacyEntries says so
  }
  let entries;
  try {
    entries = legacyEntries(Secret.fromBytes(Buffer.from(plain)));
  } catch (err) {
    expectCoded(err, ["INVALID_FORMAT", "INVALID_NAME"]);
    for (const v of values) assertNoCanary(err, v, "legacy import error");
    return;
  }
  for (const { ref, value } of entries) {
    check(NAME.test(ref.ns) && NAME.test(ref.name), `invalid vault name ${ref.ns}/${ref.name}`);
    value.dispose();
  }
}

export function fuzz(data) {
  const key = Secret.fromString(KEY_TEXT);
  if (data.length > 25 && data[0] & 1) {
    const iv = Buffer.from(data.subarray(1, 17));
    const time = data.readBigUInt64BE(17);
    const plain = Buffer.from(data.subarray(25));
    const out = decryptFernet(key, encrypt(plain, iv, time));
    check(out.exposeBytes().equals(plain), "decryptFernet(encrypt(x)) is not x");
    checkEntries(plain);
    return;
  }
  try {
    decryptFernet(key, data.subarray(1).toString("latin1"));
  } catch (err) {
    expectCoded(err, ["INVALID_FORMAT", "DECRYPT_FAILED"]);
    return;
  }
  throw new Error("a token made without the key verified");
}
