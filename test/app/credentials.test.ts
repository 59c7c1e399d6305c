/**
 * CredentialStore as a library caller uses it, against the real systemd-creds on a scratch store:
 * every change leaves the audit record and the fingerprint the CLI leaves for the same change, a
 * refusal leaves a coded error that names names, and no value reaches the audit log, the state
 * directory or an error.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";
import {
  CredentialStore,
  KeyholdError,
  openFingerprintIndex,
  openStateAuditLog,
  SCAN_KEY_NAME,
  Secret,
} from "../../src/index.js";
import { CREDENTIAL_VALUE_MAX } from "../../src/systemd/index.js";
import { runCliOk } from "../support/cli.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";
import { encodingsOf, grepTree } from "../support/tree.js";

describe("CredentialStore, called as a library", () => {
  let s: Scratch;
  let store: CredentialStore;
  /** Every value this suite stores or tries to store, for the final sweep. */
  const canaries: string[] = [];
  const canary = (label: string): string => {
    const value = makeCanary(label);
    canaries.push(value);
    return value;
  };

  before(async () => {
    s = makeScratch("keyhold-app-");
    store = CredentialStore.open({ env: s.env });
    await store.init();
  });
  after(() => s.cleanup());

  const records = async () => (await openStateAuditLog(s.state, { env: s.env })).read();
  /** The last record, as the fields an operation chooses (not its place in the chain). */
  const lastEvent = async () => {
    const r = (await records()).at(-1);
    assert.ok(r, "the audit log has a record");
    return { op: r.op, name: r.name, result: r.result, code: r.code, detail: r.detail };
  };
  /** Who the fingerprint index says `value` belongs to. */
  const ownersOf = async (value: string) => {
    const known = await (await openFingerprintIndex(s.state, { env: s.env })).loadKnownValues();
    assert.ok(known, "the fingerprint index has entries");
    try {
      return known.lookup(Buffer.from(value)) ?? [];
    } finally {
      known.dispose();
    }
  };
  const file = (name: string, text: string): string => {
    const path = join(s.root, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };

  it("set and rotate: one audit record each, and the value's fingerprint", async () => {
    const v1 = canary("set");
    const kept = Secret.fromString(v1);
    const version = await store.set("app_key", kept);
    assert.equal(version.version, 1);
    assert.equal(kept.expose(), v1, "a Secret the caller passed stays the caller's");
    kept.dispose();
    assert.deepEqual(await lastEvent(), {
      op: "set",
      name: "app_key",
      result: "ok",
      code: undefined,
      detail: { version: 1, size: v1.length },
    });
    assert.deepEqual(await ownersOf(v1), [{ name: "app_key", source: "credstore" }]);

    const v2 = canary("rotate");
    const produced = Secret.fromString(v2);
    await store.rotate("app_key", async () => produced);
    assert.throws(() => produced.expose(), { code: "DISPOSED" }, "a value the store produced, it disposes");
    assert.deepEqual(await lastEvent(), {
      op: "rotate",
      name: "app_key",
      result: "ok",
      code: undefined,
      detail: { version: 2, size: v2.length },
    });
    assert.deepEqual(await ownersOf(v2), [{ name: "app_key", source: "credstore" }]);
    const back = await store.get("app_key");
    assert.equal(back.expose(), v2);
    back.dispose();
    assert.deepEqual(await lastEvent(), {
      op: "get",
      name: "app_key",
      result: "ok",
      code: undefined,
      detail: { reveal: false },
    });
  });

  it("importFile: one audit record, the fingerprint, and with shred the file gone", async () => {
    const value = canary("import");
    const path = file("plain-key", `${value}\n`);
    await store.importFile("imported_key", path, { shred: true });
    assert.equal(existsSync(path), false, "shredded once the credential decrypted to the same bytes");
    assert.deepEqual(await lastEvent(), {
      op: "import",
      name: "imported_key",
      result: "ok",
      code: undefined,
      detail: { version: 1, shredded: true },
    });
    assert.deepEqual(await ownersOf(value), [{ name: "imported_key", source: "credstore" }]);
  });

  it("importEnv: one audit record for the file, a fingerprint per entry, and a rerun changes nothing", async () => {
    const a = canary("env-a");
    const b = canary("env-b");
    const path = file("app.env", `ENV_A=${a}\nexport ENV_B="${b}"\n`);
    assert.deepEqual(await store.importEnv(path), [
      { variable: "ENV_A", name: "env_a", alreadyStored: false },
      { variable: "ENV_B", name: "env_b", alreadyStored: false },
    ]);
    assert.deepEqual(await lastEvent(), {
      op: "import-env",
      name: undefined,
      result: "ok",
      code: undefined,
      detail: { count: 2, alreadyStored: 0 },
    });
    assert.deepEqual(await ownersOf(a), [{ name: "env_a", source: "credstore" }]);
    assert.deepEqual(await ownersOf(b), [{ name: "env_b", source: "credstore" }]);

    const again = await store.importEnv(path);
    assert.ok(again.every((e) => e.alreadyStored));
    assert.deepEqual((await lastEvent()).detail, { count: 0, alreadyStored: 2 });
  });

  it("rollback and remove: one audit record each", async () => {
    const restored = await store.rollback("app_key");
    assert.equal(restored.version, 1);
    assert.deepEqual(await lastEvent(), {
      op: "rollback",
      name: "app_key",
      result: "ok",
      code: undefined,
      detail: { version: 1 },
    });
    assert.equal(await store.remove("app_key"), 2);
    assert.deepEqual(await lastEvent(), {
      op: "rm",
      name: "app_key",
      result: "ok",
      code: undefined,
      detail: { versions: 2 },
    });
    assert.deepEqual(
      (await store.list()).map((e) => e.name),
      ["env_a", "env_b", "imported_key"],
    );
  });

  it("a library set leaves the record and the fingerprints a CLI set leaves", async () => {
    const viaCli = canary("cli");
    const viaLibrary = canary("lib");
    assert.equal(viaCli.length, viaLibrary.length);
    await runCliOk(["set", "same_cli"], { env: s.env, input: viaCli });
    const cliRecord = await lastEvent();
    const value = Secret.fromString(viaLibrary);
    await store.set("same_lib", value);
    value.dispose();
    const libRecord = await lastEvent();
    assert.deepEqual({ ...libRecord, name: "same_cli" }, cliRecord);

    const entries = (await openFingerprintIndex(s.state, { env: s.env })).entries();
    const shape = (name: string) =>
      entries
        .filter((e) => e.name === name)
        .map((e) => [e.source, e.length])
        .sort();
    assert.ok(shape("same_cli").length > 0);
    assert.deepEqual(shape("same_lib"), shape("same_cli"));
  });

  it("refusals are coded errors that hold no value, and change nothing", async () => {
    const value = canary("refused");
    const errors: { code: string; err: unknown }[] = [];
    const refused = async (code: string, attempt: () => Promise<unknown>) => {
      let thrown: unknown;
      try {
        await attempt();
      } catch (err) {
        thrown = err;
      }
      assert.ok(thrown instanceof KeyholdError, `expected ${code}, got ${String(thrown)}`);
      assert.equal(thrown.code, code, thrown.message);
      errors.push({ code, err: thrown });
    };
    const listing = async () => (await store.list()).map((e) => [e.name, e.version]);
    const before = await listing();

    let asked = false;
    await refused("CREDENTIAL_EXISTS", () =>
      store.set("env_a", async () => {
        asked = true;
        return Secret.fromString(value);
      }),
    );
    assert.equal(asked, false, "the value is not asked for once a check has refused");
    await refused("CREDENTIAL_NOT_FOUND", () => store.rotate("missing_key", Secret.fromString(value)));
    await refused("RESERVED_NAME", () => store.set(SCAN_KEY_NAME, Secret.fromString(value)));
    await refused("INVALID_NAME", () => store.set("bad/name", Secret.fromString(value)));
    // import-env is all or nothing: a taken name with another value refuses the whole file.
    await refused("CREDENTIAL_EXISTS", () =>
      store.importEnv(file("taken.env", `NEW_ONE=${makeCanary("new")}\nENV_A=${value}\n`)),
    );
    await refused("INVALID_FORMAT", () => store.importEnv(file("broken.env", `GOOD=x\n${value}\n`)));
    const big = value.repeat(Math.ceil((CREDENTIAL_VALUE_MAX + 1) / value.length));
    await refused("TOO_LARGE", () => store.importFile("big_key", file("big", big)));
    await refused("VERSION_NOT_FOUND", () => store.rollback("imported_key"));
    await refused("CREDENTIAL_NOT_FOUND", () => store.get("missing_key"));
    assert.deepEqual(await listing(), before, "nothing was stored, replaced or removed");

    for (const { code, err } of errors) {
      const e = err as KeyholdError;
      const texts = [e.message, e.hint ?? "", e.stack ?? "", inspect(e, { depth: null }), JSON.stringify(e)];
      for (const form of encodingsOf(value))
        for (const text of texts) assert.ok(!text.includes(form), `the ${code} error holds the value`);
    }
    // Operations that got as far as the audit log recorded their refusal by code.
    const failed = (await records()).filter((r) => r.result === "error").map((r) => [r.op, r.name, r.code]);
    assert.deepEqual(failed, [
      ["rollback", "imported_key", "VERSION_NOT_FOUND"],
      ["get", "missing_key", "CREDENTIAL_NOT_FOUND"],
    ]);
  });

  it("no value reached the audit log or anything else in the state directory or the store", async () => {
    assert.ok(canaries.length >= 8);
    const log = readFileSync(join(s.state, "audit.log"), "utf8");
    const needles = canaries.flatMap(encodingsOf);
    for (const n of needles) assert.ok(!log.includes(n), "the audit log holds a value");
    assert.deepEqual(grepTree([s.state, s.store], needles), []);
    const verify = await (await openStateAuditLog(s.state, { env: s.env })).verify();
    assert.equal(verify.ok, true, inspect(verify));
  });
});
