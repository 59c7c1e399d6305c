import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { SecretError } from "../../src/index.js";
import {
  CREDENTIAL_SIZE_MAX,
  CREDENTIAL_VALUE_MAX,
  credentialNameProblem,
  decryptCredential,
  decryptCredentialSync,
  encryptCredential,
  readCredentialHeader,
  startEncryptCredential,
} from "../../src/systemd/index.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";

const code = (c: string) => (e: unknown) => e instanceof SecretError && e.code === c;

describe("systemd-creds layer", () => {
  let s: Scratch;
  before(() => {
    s = makeScratch();
  });
  after(() => s.cleanup());
  const opts = () => ({ env: s.env, withKey: "host" as const });

  it("agrees with systemd-creds itself on which names are valid", () => {
    const names = [
      "my_api_key",
      "MY.KEY-1",
      "a b",
      "~",
      "x".repeat(255),
      "x".repeat(256),
      "a:b",
      "a/b",
      ".",
      "..",
      "ключ",
      "tab\tx",
      ".hidden",
    ];
    for (const name of names) {
      const real = spawnSync("systemd-creds", ["encrypt", "--with-key=host", `--name=${name}`, "-", "-"], {
        env: s.env,
        input: "v",
      });
      assert.equal(
        credentialNameProblem(name) === undefined,
        real.status === 0,
        `${JSON.stringify(name)}: ${real.stderr}`,
      );
    }
  });

  it("round-trips a value through stdin and stdout only", async () => {
    const value = makeCanary();
    const ct = await encryptCredential("round_trip", Buffer.from(value), opts());
    assert.ok(!ct.includes(Buffer.from(value)));
    assert.equal((await decryptCredential("round_trip", ct, opts())).expose(), value);
    assert.equal(decryptCredentialSync("round_trip", ct, opts()).expose(), value);
  });

  /** Processes whose command line holds `needle` (a zombie's is empty: a killed one is not found). */
  const running = (needle: string) =>
    readdirSync("/proc")
      .filter((pid) => /^[0-9]+$/.test(pid))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(needle);
        } catch {
          return false; // gone meanwhile
        }
      });

  it("a started encrypt waits for its value, takes it through stdin only, and once cancelled encrypts nothing", async () => {
    const value = makeCanary();
    const name = `later_${process.pid}`;
    const started = startEncryptCredential(name, { ...opts(), notAfter: "+60s" });
    // Already running, waiting on its stdin; neither its argv nor its environment holds the value.
    let pids: string[] = [];
    for (let i = 0; i < 100 && pids.length === 0; i++) {
      pids = running(`--name=${name}`);
      if (pids.length === 0) await sleep(50);
    }
    assert.equal(pids.length, 1, "the encrypt runs before it is given anything");
    for (const what of ["cmdline", "environ"])
      assert.ok(
        !readFileSync(`/proc/${pids[0]}/${what}`, "utf8").includes(value),
        `the value is in its ${what}`,
      );
    const ct = await started.encrypt(Buffer.from(value));
    assert.ok(!ct.includes(Buffer.from(value)));
    assert.equal((await decryptCredential(name, ct, opts())).expose(), value);
    started.cancel(); // after encrypt(): nothing to kill

    // Cancelled, it is killed at once instead of waiting out its timeout on stdin, and it can no
    // longer be given a value.
    const never = `never_${process.pid}`;
    const cancelled = startEncryptCredential(never, opts());
    cancelled.cancel();
    for (let i = 0; i < 100 && running(`--name=${never}`).length > 0; i++) await sleep(50);
    assert.deepEqual(running(`--name=${never}`), [], "a cancelled encrypt is still running");
    await assert.rejects(cancelled.encrypt(Buffer.from(value)));
    await assert.rejects(
      startEncryptCredential("e", opts()).encrypt(Buffer.alloc(0)),
      code("EMPTY_VALUE"),
      "an empty value is refused, and the encrypt killed, before it is given anything",
    );
  });

  it("reads the key type from the header without decrypting", async () => {
    const ct = await encryptCredential("typed", Buffer.from("v"), opts());
    const header = readCredentialHeader(ct);
    assert.equal(header.keyType, "host");
    assert.equal(header.keyTypeId, "5a1c6a86-df9d-4096-b1d5-a65e0862f19a");
    assert.throws(() => readCredentialHeader(Buffer.from("sk-plaintext-key\n")), code("INVALID_FORMAT"));
  });

  it("maps systemd's refusals to codes", async () => {
    const ct = await encryptCredential("MY_API_KEY", Buffer.from("v"), opts());
    await assert.rejects(decryptCredential("my_api_key", ct, opts()), (e: unknown) => {
      assert.ok(e instanceof SecretError && e.code === "NAME_MISMATCH");
      assert.match(e.message, /embedded credential name 'MY_API_KEY' does not match/);
      return true;
    });
    const flipped = Buffer.from(ct);
    const i = flipped.length - 20;
    flipped[i] = (flipped[i] as number) === 0x41 ? 0x42 : 0x41;
    await assert.rejects(decryptCredential("MY_API_KEY", flipped, opts()), code("DECRYPT_FAILED"));
    await assert.rejects(decryptCredential("MY_API_KEY", ct.subarray(0, 60), opts()), code("DECRYPT_FAILED"));
  });

  it("honours --not-after and reports EXPIRED", async () => {
    const ct = await encryptCredential("short", Buffer.from("v"), { ...opts(), notAfter: "+1s" });
    await sleep(1500);
    await assert.rejects(decryptCredential("short", ct, opts()), code("EXPIRED"));
  });

  it("refuses empty and oversized values before running anything", async () => {
    await assert.rejects(encryptCredential("e", Buffer.alloc(0), opts()), code("EMPTY_VALUE"));
    await assert.rejects(encryptCredential("big", Buffer.alloc(1024 * 1024 + 1), opts()), code("TOO_LARGE"));
    await assert.rejects(
      encryptCredential("big", Buffer.alloc(CREDENTIAL_VALUE_MAX + 1), opts()),
      code("TOO_LARGE"),
    );
  });

  it("the largest value's ciphertext fits the 1 MiB systemd loads, whatever the name", async () => {
    const value = Buffer.alloc(CREDENTIAL_VALUE_MAX, 0xa5);
    const name = "n".repeat(255);
    const ct = await encryptCredential(name, value, { ...opts(), notAfter: "+30d" });
    assert.ok(ct.length <= CREDENTIAL_SIZE_MAX, `${ct.length} bytes`);
    const back = await decryptCredential(name, ct, opts());
    assert.ok(Buffer.from(back.exposeBytes()).equals(value));
    back.dispose();
  });

  it("says so when systemd-creds is missing", async () => {
    await assert.rejects(
      encryptCredential("x", Buffer.from("v"), { ...opts(), binary: "/nonexistent/systemd-creds" }),
      code("SYSTEMD_CREDS_MISSING"),
    );
    await assert.rejects(
      startEncryptCredential("x", { ...opts(), binary: "/nonexistent/systemd-creds" }).encrypt(
        Buffer.from("v"),
      ),
      code("SYSTEMD_CREDS_MISSING"),
    );
  });
});
