/**
 * No value in argv, environment or output for the library: a Secret loaded from each source ($CREDENTIALS_DIRECTORY,
 * NAME_FILE, the encrypted credstore) prints as [REDACTED] however it is printed, and the
 * errors the loader throws never hold the value, whichever check refuses the file.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Console } from "node:console";
import { format, inspect } from "node:util";
import { clearSecretCache, loadSecret, loadSecretSync, type Secret, SecretError } from "../../src/index.js";
import { initWorld, REPO_ROOT, runCliOk } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";
import { encodingsOf } from "../support/tree.js";

/** Everything console.log, console.dir, console.error and console.table write for `value`. */
function consoleOutput(value: unknown): string {
  let text = "";
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const c = new Console({ stdout: sink, stderr: sink });
  c.log(value);
  c.log("%s %o %O %j", value, value, value, value);
  c.dir(value, { depth: null, showHidden: true });
  c.error({ nested: { deeper: [value] } });
  c.table([{ secret: value }]);
  return text;
}

/** Every way a program commonly turns a value into text. */
function renderings(secret: Secret): Record<string, string> {
  return {
    String: String(secret),
    template: `${secret}`,
    // biome-ignore lint/style/useTemplate: plain concatenation is one of the renderings under test
    concat: "prefix " + secret,
    toString: secret.toString(),
    JSON: JSON.stringify(secret),
    "JSON nested": JSON.stringify({ a: { b: [secret] } }),
    "JSON spread": JSON.stringify({ ...secret }),
    inspect: inspect(secret),
    "inspect deep": inspect({ a: { b: secret } }, { depth: null, showHidden: true, getters: true }),
    format: format("%s %o %O %j %d", secret, secret, secret, secret, secret),
    console: consoleOutput(secret),
    "Object.entries": JSON.stringify(Object.entries(secret)),
    structuredClone: inspect(structuredClone({ ...secret }), { showHidden: true }),
  };
}

function assertNoValue(value: string, texts: Record<string, string>): void {
  for (const form of encodingsOf(value)) {
    for (const [how, text] of Object.entries(texts))
      assert.ok(!text.includes(form), `${how} shows the value`);
  }
}

function errorTexts(err: unknown): Record<string, string> {
  assert.ok(err instanceof SecretError, `expected a SecretError, got ${String(err)}`);
  return {
    message: err.message,
    hint: err.hint ?? "",
    stack: err.stack ?? "",
    inspect: inspect(err, { depth: null, showHidden: true }),
    JSON: JSON.stringify(err),
    String: String(err),
    cause: inspect(err.cause, { depth: null }),
  };
}

describe("the library never shows a value", () => {
  let s: Scratch;
  let credentialsDir: string;
  let files: string;
  const values = {
    directory: makeCanary("lib-dir"),
    file: makeCanary("lib-file"),
    store: makeCanary("lib-store"),
  };

  before(async () => {
    s = await initWorld("keyhold-lib-");
    credentialsDir = join(s.root, "credentials");
    files = join(s.root, "files");
    mkdirSync(credentialsDir, { mode: 0o700 });
    mkdirSync(files, { mode: 0o700 });
    writeFileSync(join(credentialsDir, "api_key"), values.directory, { mode: 0o400 });
    writeFileSync(join(files, "api_key"), values.file, { mode: 0o600 });
    await runCliOk(["set", "api_key"], { env: s.env, input: values.store });
  });
  after(() => {
    clearSecretCache();
    s.cleanup();
  });

  const sources = {
    directory: () => ({ ...s.env, CREDENTIALS_DIRECTORY: credentialsDir }),
    file: () => ({ ...s.env, API_KEY_FILE: join(files, "api_key") }),
    store: () => ({ ...s.env }),
  } as const;

  for (const source of Object.keys(sources) as (keyof typeof sources)[]) {
    it(`a Secret from ${source === "directory" ? "$CREDENTIALS_DIRECTORY" : source === "file" ? "NAME_FILE" : "the credstore"} prints as [REDACTED]`, async () => {
      const env = sources[source]();
      const value = values[source];
      for (const secret of [
        await loadSecret("api_key", { env, cache: false }),
        loadSecretSync("api_key", { env, cache: false }),
      ]) {
        assert.equal(secret.expose(), value, "the value is there behind expose()");
        const texts = renderings(secret);
        assert.equal(texts.String, "[REDACTED]");
        assert.equal(texts.template, "[REDACTED]");
        assert.equal(texts.JSON, '"[REDACTED]"');
        assert.equal(texts.inspect, "[REDACTED]");
        assertNoValue(value, texts);
        secret.dispose();
        assert.throws(
          () => secret.expose(),
          (e: unknown) => {
            assertNoValue(value, errorTexts(e));
            return (e as SecretError).code === "DISPOSED";
          },
        );
      }
    });
  }

  it("errors from the loader never hold the value", async () => {
    const value = makeCanary("lib-error");
    const refused = join(s.root, "refused");
    mkdirSync(refused, { mode: 0o700 });
    const file = (name: string, data: string | Buffer, mode: number) => {
      const path = join(refused, name);
      writeFileSync(path, data, { mode });
      return path;
    };
    const big = Buffer.alloc(1024 * 1024 + 1, `${value}\n`);
    const cases: { code: string; load: () => Promise<unknown> }[] = [
      {
        code: "PERMISSIONS_TOO_OPEN",
        load: () => loadSecret("k1", { env: { K1_FILE: file("k1", value, 0o644) }, cache: false }),
      },
      {
        code: "TOO_LARGE",
        load: () => loadSecret("k2", { env: { K2_FILE: file("k2", big, 0o600) }, cache: false }),
      },
      {
        code: "TOO_LARGE",
        load: () => {
          file("k3", big, 0o400);
          return loadSecret("k3", { env: { CREDENTIALS_DIRECTORY: refused }, cache: false });
        },
      },
      {
        // Plaintext where the credstore should hold ciphertext: systemd-creds refuses it, and
        // its message must not echo what it was given.
        code: "DECRYPT_FAILED",
        load: () => {
          file("k4", `${value}\n`, 0o600);
          return loadSecret("k4", { env: { ...s.env, KEYHOLD_STORE: refused }, cache: false });
        },
      },
      {
        code: "DECRYPT_FAILED",
        load: async () => {
          file("k5", Buffer.from(value).toString("base64"), 0o600);
          return loadSecretSync("k5", { env: { ...s.env, KEYHOLD_STORE: refused }, cache: false });
        },
      },
    ];
    for (const c of cases) {
      let thrown: unknown;
      try {
        await c.load();
      } catch (err) {
        thrown = err;
      }
      assert.ok(thrown instanceof SecretError, `expected ${c.code}, got ${String(thrown)}`);
      assert.ok(
        thrown.code === c.code || (c.code === "DECRYPT_FAILED" && thrown.code === "INVALID_FORMAT"),
        `expected ${c.code}, got ${thrown.code}: ${thrown.message}`,
      );
      assertNoValue(value, errorTexts(thrown));
    }
  });

  it("the embedded-name mismatch error names names, not the value", async () => {
    const value = makeCanary("lib-mismatch");
    const store = join(s.root, "mismatch-store");
    mkdirSync(store, { mode: 0o700 });
    const { encryptCredential } = await import("../../src/systemd/index.js");
    writeFileSync(
      join(store, "my_api_key"),
      await encryptCredential("MY_API_KEY", Buffer.from(value), { env: s.env, withKey: "host" }),
      {
        mode: 0o600,
      },
    );
    await assert.rejects(
      loadSecret("my_api_key", { env: { ...s.env, KEYHOLD_STORE: store }, cache: false }),
      (e: unknown) => {
        assert.ok(e instanceof SecretError && e.code === "NAME_MISMATCH", String(e));
        assert.match(e.message, /MY_API_KEY/);
        assertNoValue(value, errorTexts(e));
        return true;
      },
    );
  });

  it("a program started by keyhold run loads the value through the library and prints only [REDACTED]", async () => {
    const library = join(REPO_ROOT, "dist", "src", "index.js");
    const program = [
      `const { loadSecret } = await import(${JSON.stringify(library)});`,
      'const { createHash } = await import("node:crypto");',
      'const secret = await loadSecret("api_key");',
      "console.log(secret);",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the program's own template string
      "console.log(`${secret}`, JSON.stringify({ secret }));",
      'console.log(createHash("sha256").update(secret.expose()).digest("hex"));',
    ].join("\n");
    const r = await runCliOk(
      ["run", "api_key", "--", process.execPath, "--input-type=module", "-e", program],
      { env: s.env },
    );
    const lines = r.stdout.trim().split("\n");
    assert.deepEqual(lines.slice(0, 2), ["[REDACTED]", '[REDACTED] {"secret":"[REDACTED]"}']);
    assert.equal(
      lines[2],
      createHash("sha256").update(values.store).digest("hex"),
      "the program got the value",
    );
    assertNoValue(values.store, { stdout: r.stdout, stderr: r.stderr });
  });
});
