// Writes the committed seed corpus of every fuzz target (fuzz/corpus/<target>/): small valid and
// nearly valid inputs, so the fuzzer starts inside each format. Run after a build:
//   node fuzz/make-corpus.mjs [TARGET...]
// Re-running rewrites the seeds (the vault and the audit log get new random ids and times); name
// targets to rewrite only theirs.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sealHead, sealRecord, sha256Hex } from "../dist/src/audit/format.js";
import { archiveSeeds } from "./archive-seeds.mjs";
import { KEY } from "./targets/audit-log.fuzz.mjs";
import { encrypt } from "./targets/fernet.fuzz.mjs";
import { createSeedVault } from "./vault-fixture.mjs";

const root = new URL("./corpus/", import.meta.url).pathname;
const seeds = {};
const add = (target, name, bytes) => {
  seeds[target] ??= {};
  seeds[target][name] = Buffer.from(bytes);
};
const odd = (bytes) => Buffer.concat([Buffer.from([1]), Buffer.from(bytes)]);
const even = (bytes) => Buffer.concat([Buffer.from([0]), Buffer.from(bytes)]);

// credential-header: a host-key header as systemd-creds writes it, and near misses.
const header = Buffer.alloc(36);
Buffer.from("5a1c6a86df9d4096b1d5a65e0862f19a", "hex").copy(header);
header.writeUInt32LE(32, 16);
header.writeUInt32LE(16, 20);
header.writeUInt32LE(12, 24);
header.writeUInt32LE(16, 28);
add("credential-header", "host", `${header.toString("base64")}AAAAAAAAAAAAAAAA\n`);
const nullKey = Buffer.from(header);
Buffer.from("058469daf6f54324800549da0f8ea2fb", "hex").copy(nullKey);
add("credential-header", "null-key", nullKey.toString("base64"));
add("credential-header", "plaintext", "not a credential at all, just a value\n");

// audit-log: a sealed log of three records with its head (mode 0), and fields to seal (mode 1).
let prev = "0".repeat(64);
const lines = [];
for (const [seq, op, detail] of [[1, "set", { version: 1 }], [2, "get", undefined], [3, "vault.put", { ns: "weather", ok: true }]]) {
  const fields = { v: 1, seq, time: "2026-01-01T00:00:00.000Z", uid: 0, pid: 42, op, name: "api_key", result: "ok", ...(detail ? { detail } : {}), prev };
  const { line } = sealRecord(fields, KEY);
  lines.push(line);
  prev = sha256Hex(Buffer.from(line));
}
const log = Buffer.from(lines.map((l) => `${l}\n`).join(""));
const head = sealHead({ seq: 3, size: log.length, hash: prev }, KEY);
add("audit-log", "sealed-log", even(Buffer.concat([Buffer.from(head), Buffer.from([0]), log])));
add("audit-log", "no-head", even(log));
add("audit-log", "torn-tail", even(Buffer.concat([Buffer.from(head), Buffer.from([0]), log, Buffer.from('{"v":1')])));
add("audit-log", "fields", odd("\x03set\x00api_key\x01ok\x7f some detail value\x10"));

// vault-file: a real vault (fixed master, fuzz/vault-fixture.mjs) and simple damage to it.
const scratch = mkdtempSync(join(tmpdir(), "keyhold-corpus-"));
await createSeedVault(scratch);
const vault = readFileSync(join(scratch, "vault", "vault.json"));
rmSync(scratch, { recursive: true, force: true });
add("vault-file", "vault", vault);
add("vault-file", "empty-records", '{"format":"keyhold-vault-file/1","records":{}}');
add("vault-file", "other-format", '{"format":"keyhold-vault-file/9","records":{}}');

// fernet: tokens that do not verify (mode 0) and legacy-store plaintexts to encrypt (mode 1).
const iv = Buffer.alloc(16, 3);
const time = Buffer.alloc(8);
time.writeBigUInt64BE(1700000000n);
const legacy = JSON.stringify({ api_keys: { weather: "legacy-value-1234567" }, oauth_tokens: { mail: { access: "tok-abc-123456", expires: 3600 } } });
add("fernet", "legacy-store", odd(Buffer.concat([iv, time, Buffer.from(legacy)])));
add("fernet", "bad-name", odd(Buffer.concat([iv, time, Buffer.from('{"api_keys":{"../etc":"v"}}')])));
const token = encrypt(Buffer.from(legacy), iv, 1700000000n);
add("fernet", "flipped-token", even(`${token.slice(0, 40)}A${token.slice(41)}`));
add("fernet", "not-base64", even("gAAAAA!!!"));

// jobserver-http: the protocol's own vectors as raw requests (a last byte with its low bit set:
// FuzzedDataProvider takes numbers and booleans from the end).
const vectors = new URL("../test/vectors/jobserver/", import.meta.url).pathname;
for (const file of readdirSync(vectors)) {
  const text = readFileSync(join(vectors, file), "utf8");
  const body = text.slice(text.indexOf("\n\n") + 2);
  const raw = /encoding: base64/.test(text)
    ? Buffer.from(body.trim(), "base64")
    : Buffer.from(body.slice(0, body.indexOf("\n\n") + 2).replace(/\n/g, "\r\n") + body.slice(body.indexOf("\n\n") + 2));
  add("jobserver-http", file.replace(/\.txt$/, ""), Buffer.concat([raw, Buffer.from([1])]));
}

// jobs-config: configurations (a NUL, then a run's parameters as JSON).
const job = { argv: ["/bin/echo", "{word}"], cwd: "/srv/work", outputDir: "/srv/out", credentials: ["api_key"], params: { word: { pattern: "[a-z]+", default: "abc" }, mode: { pattern: "fast|slow", env: "MODE" } } };
add("jobs-config", "full", `${JSON.stringify({ stateDir: "/var/lib/keyhold", keepRuns: 10, concurrency: 2, queueLimit: 5, http: { headersTimeoutMs: 1000, requestTimeoutMs: 2000, maxConnections: 8 }, environment: { PATH: "/usr/bin", HOME: "/tmp", LANG: "C" }, jobs: { echo: job } })}\0{"word":"xyz","mode":"slow"}`);
add("jobs-config", "unknown-key", JSON.stringify({ jobs: { a: { ...job, timeoutSecond: 5 } } }));
add("jobs-config", "bad-path", JSON.stringify({ jobs: { a: { ...job, cwd: "/srv/../etc" } } }));

// dotenv: the forms the parser takes.
add("dotenv", "forms", 'export OPENAI_API_KEY=placeholder-value\n# comment\nA="quoted \\" value\\n" # c\nB=\'single\'\nC=`back`\nD=plain value # trailing\n');
add("dotenv", "crlf", "X=1\r\nY=2\r\n");
add("dotenv", "duplicate", "X=1\nx=2\n");

// scan-ignore: a .gitleaksignore (first byte even) and a .secretlintignore (odd).
add("scan-ignore", "gitleaks", even(`# reviewed\napp.conf:github-pat:2\n${"0123456789abcdef".repeat(2)}01234567:src/a.py:generic-api-key:14\r\ndocs/x.md:zz-custom:7\n`));
add("scan-ignore", "gitleaks-garbage", even("not a fingerprint\n"));
add("scan-ignore", "secretlint", odd("# fixtures\n*.snap\n/vendor\nfixtures/\n!fixtures/keep.txt\n\\#hash.txt\n"));
add("scan-ignore", "secretlint-negated", odd("!a\n!b/\n"));

// scan-policy: policy files (first byte even) and glob/path pairs (odd).
add("scan-policy", "policy", even(JSON.stringify({ version: 1, allow: { paths: ["test/fixtures/**", "*.md", "/docs/*.txt"], rules: ["generic-high-entropy"] }, accepted: [{ id: "abc", rule: "aws-access-key", path: "a.txt", note: "fixture" }] })));
add("scan-policy", "null-allow", even('{"version":1,"allow":null}'));
for (const [i, [glob, path]] of [["**/fixtures/*.json", "a/b/fixtures/x.json"], ["*.md", "docs/readme.md"], ["/src/*/a?c", "src/x/abc"], ["a/**", "a/b/c"], ["*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaa"]].entries()) {
  add("scan-policy", `glob-${i}`, odd(`${glob}\n${path}`));
}

// git-history and unit: a few inputs (FuzzedDataProvider reads choices from the end, bytes from
// the front, so any bytes make a repository or an option set).
add("git-history", "one-file", Buffer.from("\x01\x01config.env\x00AWS_KEY=value-of-a-file\x00\x00\x00"));
add("git-history", "newline-name", Buffer.from("\x02\x02a\nb\x00\x01:x y\x00second blob content\x00first\x00\x01\x00"));

add("unit", "jobserver", Buffer.from("\x00\x02\x01app\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"));
add("unit", "standard-exec", Buffer.from("\x01\x00\x00\x00\x01/usr/bin/app --port 80\x00\x01api_key\x00\x00\x00\x00\x00\x00"));

// scan-archive: zip, tar and tar.gz (the first byte picks which), nested, with `../` names.
for (const [name, bytes] of Object.entries(archiveSeeds())) add("scan-archive", name, bytes);

// scan-secret-data: manifests (first byte even) and values to encode under data: (odd).
const b64 = (text) => Buffer.from(text).toString("base64");
add("scan-secret-data", "manifest", even(`apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\ndata:\n  "api.key": "${b64("API_KEY=not-a-key-value")}"  # note\n  .env: ${b64("# env\nDB_PASSWORD=not-a-password\n")}\nstringData:\n  plain: text\n`));
add("scan-secret-data", "list-crlf", even(`kind: List\r\nitems:\r\n- kind: Secret\r\n  data:\r\n    a: ${b64("abcdefgh")}\r\n---\r\nkind: ConfigMap\r\ndata:\r\n  b: ${b64("abcdefgh")}\r\n`));
add("scan-secret-data", "value", odd("NAME=value-of-a-file\n"));
// The finding of 2026-12-02: base64 of 5 bytes (7 characters and '=') was not read.
add("scan-secret-data", "short-padded", odd(Buffer.from([0xb2, 0xc8, 0xb2, 0xff, 0x2d])));

// scan-git-credentials: credential store files (first byte even) and passwords (odd).
add("scan-git-credentials", "store", even("https://deploy:example%2Bvalue%2F%3D@git.example.com\nhttps://ci:@host\nhttps://long-user-name-of-twenty:x-oauth-basic@github.com\n"));
add("scan-git-credentials", "password", odd("NAME=not+a/key= with space@"));

// scan-utf16: files (first byte even) and text to write as UTF-16 (odd).
add("scan-utf16", "utf16le", even(Buffer.from("KEY=value\r\n", "utf16le")));
add("scan-utf16", "utf16be", even(Buffer.from("KEY=value\n", "utf16le").swap16()));
add("scan-utf16", "utf8", even("KEY=value\n"));
add("scan-utf16", "text", odd("KEY=value"));

const only = process.argv.slice(2);
for (const [target, files] of Object.entries(seeds)) {
  if (only.length > 0 && !only.includes(target)) continue;
  const dir = join(root, target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
}
console.log(Object.entries(seeds).map(([t, f]) => `${t}: ${Object.keys(f).length}`).join("\n"));
