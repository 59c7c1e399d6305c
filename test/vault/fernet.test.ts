/**
 * Importing a legacy Fernet store: the specification's own vectors (test/vectors/fernet/,
 * https://github.com/fernet/spec) replayed through decryptFernet, the rules they do not cover
 * (the URL-safe alphabet only; the clock skew applies with a TTL, as in the reference implementations), and `keyhold vault migrate-fernet`
 * refusing bad, expired and future tokens whole, with nothing imported.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createCipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { isSecretError, Secret } from "../../src/secret/index.js";
import { decryptFernet, FERNET_MAX_CLOCK_SKEW_SECONDS } from "../../src/vault/index.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";

const DIR = fileURLToPath(new URL("../../../test/vectors/fernet/", import.meta.url));
const BIN = fileURLToPath(new URL("../../../bin/keyhold.js", import.meta.url));

/** The spec's files at fernet/spec 20dead475f53f11d20592baf29ad697163afc0cd (test/vectors/fernet/README.md). */
const SPEC_FILES: Record<string, string> = {
  "generate.json": "b4b18aec84cb721e72229c147c169eb8f76e47827a58914b7b3ffae644889844",
  "verify.json": "489184ab9c6965e15aca47993ec5b156f488e70ca780c5634239d5498ec5cf65",
  "invalid.json": "90909d69cfdc0703c688242652c8edf02830e81ec40adb91875c44109f689fa6",
};

interface SpecVector {
  token: string;
  now: string;
  secret: string;
  src?: string;
  iv?: number[];
  ttl_sec?: number;
  desc?: string;
}

function specVectors(file: string): SpecVector[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(DIR, file));
  } catch {
    assert.fail(
      `missing test/vectors/fernet/${file}: the Fernet specification's vectors (github.com/fernet/spec)`,
    );
  }
  const sum = createHash("sha256").update(bytes).digest("hex");
  assert.equal(sum, SPEC_FILES[file], `test/vectors/fernet/${file} is not the specification's file`);
  const vectors = JSON.parse(bytes.toString("utf8")) as SpecVector[];
  assert.ok(vectors.length > 0, file);
  return vectors;
}

/** base64url with "=" padding, as the spec's implementations write tokens. */
const base64urlPadded = (b: Buffer) => b.toString("base64").replace(/\+/g, "-").replace(/\//g, "_");

/**
 * The spec's "Generating" steps, written here independently of keyhold (keyhold only reads
 * Fernet): checked against generate.json, then used to make the fixtures below at test time.
 */
function fernetEncode(
  secret: string,
  src: Buffer | string,
  time: Date,
  iv: Buffer = randomBytes(16),
): string {
  const key = Buffer.from(secret, "base64url");
  const stamp = Buffer.alloc(8);
  stamp.writeBigUInt64BE(BigInt(Math.floor(time.getTime() / 1000)));
  const cipher = createCipheriv("aes-128-cbc", key.subarray(16), iv);
  const body = Buffer.concat([Buffer.from([0x80]), stamp, iv, cipher.update(src), cipher.final()]);
  const mac = createHmac("sha256", key.subarray(0, 16)).update(body).digest();
  return base64urlPadded(Buffer.concat([body, mac]));
}

const decrypt = (secret: string, token: string, options: Parameters<typeof decryptFernet>[2] = {}) =>
  decryptFernet(Secret.fromString(secret), token, options);

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    (run() as Secret).dispose();
  } catch (err) {
    assert.ok(isSecretError(err), `not a SecretError: ${String(err)}`);
    return { code: err.code, message: err.message };
  }
  assert.fail("the token was accepted");
}

/** Each invalid vector (by its desc) and the coded error it must get. */
const INVALID: Record<string, { code: string; message: RegExp }> = {
  "incorrect mac": { code: "DECRYPT_FAILED", message: /^the Fernet token does not verify with this key$/ },
  "too short": { code: "INVALID_FORMAT", message: /^the Fernet token is too short \(\d+ bytes\)$/ },
  "invalid base64": { code: "INVALID_FORMAT", message: /^the Fernet token is not base64url text$/ },
  "payload size not multiple of block size": {
    code: "INVALID_FORMAT",
    message: /^the Fernet token's ciphertext is not a whole number of 16-byte blocks$/,
  },
  "payload padding error": {
    code: "DECRYPT_FAILED",
    message: /verifies but does not decrypt: its padding is wrong$/,
  },
  "far-future TS (unacceptable clock skew)": {
    code: "INVALID_FORMAT",
    message: /timestamp \(1985-10-26T18:20:01\.000Z\) is more than 60 s ahead of this host's clock$/,
  },
  "expired TTL": {
    code: "EXPIRED",
    message: /made at 1985-10-26T08:20:01\.000Z, more than its time-to-live of 60 s ago$/,
  },
  "incorrect IV (causes padding error)": {
    code: "DECRYPT_FAILED",
    message: /verifies but does not decrypt: its padding is wrong$/,
  },
};

describe("the Fernet specification's vectors (test/vectors/fernet)", () => {
  it("generate.json: the spec's steps with its fixed IV and time make its token, and keyhold reads it back", () => {
    for (const v of specVectors("generate.json")) {
      const token = fernetEncode(v.secret, v.src!, new Date(v.now), Buffer.from(v.iv!));
      assert.equal(token, v.token);
      const plain = decrypt(v.secret, v.token, { now: new Date(v.now) });
      assert.equal(plain.expose(), v.src);
      plain.dispose();
    }
  });

  it("verify.json: each token verifies at its `now` with its ttl_sec and gives its src", () => {
    for (const v of specVectors("verify.json")) {
      const plain = decrypt(v.secret, v.token, { now: new Date(v.now), ttlSeconds: v.ttl_sec! });
      assert.equal(plain.expose(), v.src);
      plain.dispose();
    }
  });

  it("invalid.json: every token is refused at its `now` with its ttl_sec, with its own coded error", () => {
    const vectors = specVectors("invalid.json");
    assert.deepEqual(
      vectors.map((v) => v.desc).sort(),
      Object.keys(INVALID).sort(),
      "a vector without an expectation",
    );
    for (const v of vectors) {
      const expected = INVALID[v.desc!]!;
      const got = refusal(() => decrypt(v.secret, v.token, { now: new Date(v.now), ttlSeconds: v.ttl_sec! }));
      assert.equal(got.code, expected.code, v.desc);
      assert.match(got.message, expected.message, v.desc);
    }
  });
});

describe("decryptFernet beyond the vectors", () => {
  const [spec] = specVectors("generate.json") as [SpecVector];
  const at = new Date(spec.now);
  const standard = (s: string) => s.replace(/-/g, "+").replace(/_/g, "/");

  it("refuses the standard base64 alphabet (+ and /), in the token and in the key", () => {
    assert.match(spec.token, /[-_]/);
    assert.match(spec.secret, /[-_]/);
    for (const [secret, token, what] of [
      [spec.secret, standard(spec.token), "token"],
      [standard(spec.secret), spec.token, "key"],
    ] as const) {
      const got = refusal(() => decrypt(secret, token, { now: at }));
      assert.deepEqual(got, { code: "INVALID_FORMAT", message: `the Fernet ${what} is not base64url text` });
    }
  });

  it("refuses base64url that no encoder writes: white space inside, wrong padding, leftover bits set", () => {
    const body = spec.token.replace(/=+$/, "");
    const last = body.at(-1)!;
    const bytes = Buffer.from(body, "base64url");
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const sameBytes = [...alphabet].find(
      (c) => c !== last && Buffer.from(body.slice(0, -1) + c, "base64url").equals(bytes),
    );
    assert.ok(sameBytes, "the token has leftover bits to set");
    for (const token of [
      `${body.slice(0, 20)} ${body.slice(20)}`,
      `${body.slice(0, 20)}\n${body.slice(20)}`,
      `${body}=`,
      `${body}===`,
      `=${body}`,
      body.slice(0, -1) + sameBytes,
    ]) {
      assert.equal(refusal(() => decrypt(spec.secret, token, { now: at })).code, "INVALID_FORMAT", token);
    }
    // Unpadded, and with a file's final line break, it is the same token.
    for (const token of [body, `${spec.token}\n`, `${spec.token}\r\n`]) {
      const plain = decrypt(spec.secret, token, { now: at });
      assert.equal(plain.expose(), spec.src);
      plain.dispose();
    }
  });

  it("applies the 60 s clock skew with a TTL; without a TTL neither a future nor an old token is refused", () => {
    const secret = randomBytes(32).toString("base64url");
    const now = new Date("2025-06-01T12:00:00Z");
    const ahead = (s: number) => fernetEncode(secret, "x", new Date(now.getTime() + s * 1000));
    assert.equal(FERNET_MAX_CLOCK_SKEW_SECONDS, 60);
    decrypt(secret, ahead(60), { now, ttlSeconds: 3600 }).dispose();
    const got = refusal(() => decrypt(secret, ahead(61), { now, ttlSeconds: 3600 }));
    assert.equal(got.code, "INVALID_FORMAT");
    assert.match(got.message, /2025-06-01T12:01:01\.000Z\) is more than 60 s ahead of this host's clock$/);
    // A store written on a host whose clock ran ahead still migrates when it used no TTL.
    decrypt(secret, ahead(86_400), { now }).dispose();
    const old = fernetEncode(secret, "x", new Date("2001-01-01T00:00:00Z"));
    decrypt(secret, old, { now }).dispose();
    assert.equal(refusal(() => decrypt(secret, old, { now, ttlSeconds: 86_400 })).code, "EXPIRED");
  });

  it("TTL: a token exactly ttl seconds old is accepted, one second more is EXPIRED", () => {
    const secret = randomBytes(32).toString("base64url");
    const made = new Date("2025-06-01T12:00:00Z");
    const token = fernetEncode(secret, "x", made);
    decrypt(secret, token, { now: new Date(made.getTime() + 3600_000), ttlSeconds: 3600 }).dispose();
    const late = refusal(() =>
      decrypt(secret, token, { now: new Date(made.getTime() + 3601_000), ttlSeconds: 3600 }),
    );
    assert.equal(late.code, "EXPIRED");
  });

  it("checks the HMAC before it decrypts: a token whose ciphertext is changed is DECRYPT_FAILED (MAC), not a padding error", () => {
    const raw = Buffer.from(spec.token, "base64url");
    raw[raw.length - 33]! ^= 0x01; // last ciphertext byte: the padding would break too
    const got = refusal(() => decrypt(spec.secret, base64urlPadded(raw), { now: at }));
    assert.deepEqual(got, {
      code: "DECRYPT_FAILED",
      message: "the Fernet token does not verify with this key",
    });
  });

  it("refuses a version other than 0x80 and a key that is not 32 bytes", () => {
    const raw = Buffer.from(spec.token, "base64url");
    raw[0] = 0x81;
    assert.match(
      refusal(() => decrypt(spec.secret, base64urlPadded(raw), { now: at })).message,
      /version byte/,
    );
    const short = randomBytes(24).toString("base64url");
    assert.equal(
      refusal(() => decrypt(short, spec.token, { now: at })).message,
      "a Fernet key is 32 bytes in base64url",
    );
  });
});

describe("keyhold vault migrate-fernet", () => {
  let s: Scratch;
  let secret: string;
  let keyFile: string;
  const seen: string[] = [];
  const canary = makeCanary("fernet");
  const keyhold = (args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, "vault", ...args], {
      env: s.env,
      encoding: "utf8",
      timeout: 60_000,
    });
    seen.push(r.stdout, r.stderr);
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  /** A legacy store for namespace `svc`, as a token file made at `time`. */
  const legacyStore = (name: string, time: Date, svc = name): string => {
    const doc = {
      api_keys: { [svc]: `${canary}-${svc}` },
      oauth_tokens: { [svc]: { access_token: `${canary}-t` } },
    };
    const path = join(s.root, `${name}.enc`);
    writeFileSync(path, fernetEncode(secret, JSON.stringify(doc), time));
    return path;
  };
  const listed = () =>
    JSON.parse(keyhold(["ls", "--json"]).stdout).map(
      (x: { ns: string; name: string }) => `${x.ns}/${x.name}`,
    );

  before(() => {
    s = makeScratch("keyhold-fernet-cli-");
    const init = keyhold(["init"]);
    assert.equal(init.code, 0, init.stderr);
    secret = randomBytes(32).toString("base64url");
    keyFile = join(s.root, "legacy.key");
    writeFileSync(keyFile, `${secret}=\n`, { mode: 0o600 }); // as Python's Fernet.generate_key() writes it
  });
  after(() => {
    for (const text of seen) assert.ok(!text.includes(canary), "a legacy value reached the output");
    s.cleanup();
  });

  it("--ttl: a store older than its TTL is refused whole with EXPIRED, nothing imported; a TTL it meets imports it all", () => {
    const token = legacyStore("old", new Date(Date.now() - 2 * 3600_000));
    const expired = keyhold(["migrate-fernet", token, "--key-file", keyFile, "--ttl", "3600"]);
    assert.equal(expired.code, 1);
    assert.equal(expired.stdout, "");
    assert.match(
      expired.stderr,
      /^keyhold: the Fernet token was made at \S+, more than its time-to-live of 3600 s ago \[EXPIRED\]\n/,
    );
    assert.deepEqual(listed(), []);
    const fine = keyhold(["migrate-fernet", token, "--key-file", keyFile, "--ttl", "86400"]);
    assert.equal(fine.code, 0, fine.stderr);
    assert.match(fine.stdout, /^imported 2 secrets from the legacy store\n/);
    assert.deepEqual(listed().sort(), ["old/api_key", "old/oauth_access_token"]);
  });

  it("refuses a token in the standard base64 alphabet, one from the future under --ttl, and one changed: nothing imported", () => {
    let standard: string;
    do {
      standard = readFileSync(legacyStore("std", new Date()), "utf8").replace(/-/g, "+").replace(/_/g, "/");
    } while (!/[+/]/.test(standard));
    writeFileSync(join(s.root, "std.enc"), standard);
    const changed = Buffer.from(readFileSync(legacyStore("changed", new Date()), "utf8"), "base64url");
    changed[40]! ^= 0x01;
    writeFileSync(join(s.root, "changed.enc"), base64urlPadded(changed));
    const cases: [string, string[], RegExp][] = [
      [
        "std",
        [],
        /^keyhold: the Fernet token is not base64url text \[INVALID_FORMAT\]\nkeyhold: hint: .*not \+ or \//,
      ],
      ["future", ["--ttl", "86400"], /is more than 60 s ahead of this host's clock \[INVALID_FORMAT\]/],
      ["changed", [], /^keyhold: the Fernet token does not verify with this key \[DECRYPT_FAILED\]/],
    ];
    legacyStore("future", new Date(Date.now() + 3600_000));
    for (const [name, extra, pattern] of cases) {
      const r = keyhold(["migrate-fernet", join(s.root, `${name}.enc`), "--key-file", keyFile, ...extra]);
      assert.equal(r.code, 1, name);
      assert.match(r.stderr, pattern, name);
      assert.equal(r.stdout, "");
    }
    assert.deepEqual(listed().sort(), ["old/api_key", "old/oauth_access_token"], "only the earlier import");
  });

  it("--ttl takes a whole number of seconds, 1 or more", () => {
    const token = legacyStore("ttl", new Date());
    for (const ttl of ["0", "1.5", "1h", "", "99999999999999"]) {
      const r = keyhold(["migrate-fernet", token, "--key-file", keyFile, "--ttl", ttl]);
      assert.equal(r.code, 2, ttl);
      assert.match(r.stderr, /--ttl takes a whole number of seconds, 1 or more \[USAGE\]/, ttl);
    }
    const negative = keyhold(["migrate-fernet", token, "--key-file", keyFile, "--ttl", "-5"]);
    assert.equal(negative.code, 2);
    assert.match(negative.stderr, /\[USAGE\]/);
    assert.deepEqual(listed().sort(), ["old/api_key", "old/oauth_access_token"]);
  });
});
