import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { CHECKOUT } from "../support/checkout.js";
import { makeCanary, makeScratch } from "../support/scratch.js";
import { startPostgres, type TestPostgres } from "../vault/postgres-server.js";

/**
 * bin/keyhold.js compiles the CLI with the V8 code cache scripts/code-cache.mjs made for the
 * command at build time, and falls back to the split bundle whenever that cache is not exactly
 * this build's. The cache is code: these tests check that no other file is ever taken for one.
 */
type Training = { argv: string[]; exit?: number }[];
const script = pathToFileURL(join(CHECKOUT, "scripts/code-cache.mjs")).href;
const { TRAINING, buildIdOf, cacheName } = (await import(script)) as {
  TRAINING: Training;
  buildIdOf: (source: string) => string | undefined;
  cacheName: (build: string, argv: readonly string[]) => string;
};

const buildOf = (bundle: string) => buildIdOf(readFileSync(bundle, "latin1"));

/** `keyhold ARGS` with phase tracing: which way the CLI was loaded, and what it printed. */
function traced(bin: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH, LANG: "C.UTF-8", KEYHOLD_TRACE_TIMING: "1", ...env },
    encoding: "utf8",
  });
  const loaded = /^keyhold: timing: (code-cache(?:-rejected)?) /m.exec(r.stderr)?.[1] ?? "split bundle";
  return { ...r, loaded };
}

describe("the V8 code cache of the CLI", () => {
  it("the build made one for each trained command, and this Node.js takes it", () => {
    const build = buildOf(join(CHECKOUT, "dist/cli/keyhold.cjs"));
    assert.ok(build, "the bundle carries its build id");
    for (const { argv } of TRAINING) {
      const words = argv[0] === "vault" ? argv.slice(0, 2) : argv.slice(0, 1);
      assert.ok(
        existsSync(join(CHECKOUT, "dist/cli", cacheName(build, argv))),
        `a cache for ${words.join(" ")}`,
      );
      const r = traced(join(CHECKOUT, "bin/keyhold.js"), [...words, "--help"]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^usage: keyhold /);
      assert.equal(r.loaded, "code-cache", `${words.join(" ")} compiled from its cache`);
    }
  });

  describe("an installation whose caches are missing, refused or another build's", () => {
    const scratch = makeScratch("keyhold-code-cache-");
    const root = join(scratch.root, "keyhold");
    const bin = join(root, "bin/keyhold.js");
    const cli = join(root, "dist/cli");
    before(() => {
      mkdirSync(root);
      for (const path of ["bin/keyhold.js", "bin/package.json", "package.json", "dist/cli"])
        cpSync(join(CHECKOUT, path), join(root, path), { recursive: true });
      symlinkSync(join(CHECKOUT, "node_modules"), join(root, "node_modules"));
    });
    after(() => scratch.cleanup());
    const cacheOf = (command: string) => readdirSync(cli).find((name) => name.endsWith(`.${command}.cache`));

    it("takes the cache made for it", () => {
      const r = traced(bin, ["ls", "--help"]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.loaded, "code-cache");
    });

    it("KEYHOLD_CODE_CACHE=off starts from the split bundle; a value other than on or off is refused", () => {
      const off = traced(bin, ["ls", "--help"], { KEYHOLD_CODE_CACHE: "off" });
      assert.equal(off.status, 0, off.stderr);
      assert.equal(off.loaded, "split bundle");
      const typo = traced(bin, ["ls", "--help"], { KEYHOLD_CODE_CACHE: "of" });
      assert.equal(typo.status, 2);
      assert.equal(typo.stdout, "");
      assert.match(typo.stderr, /^keyhold: KEYHOLD_CODE_CACHE must be "on" or "off" \[USAGE\]$/m);
    });

    it("runs a command that has no cache from the split bundle", () => {
      const r = traced(bin, ["init", "--help"]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^usage: keyhold init/);
      assert.equal(r.loaded, "split bundle");
    });

    it("still runs, compiled as usual, when V8 refuses the cache", () => {
      const ls = cacheOf("ls");
      assert.ok(ls);
      writeFileSync(join(cli, ls), Buffer.alloc(4096, 0x5a));
      const r = traced(bin, ["ls", "--help"]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^usage: keyhold ls/);
      assert.equal(r.loaded, "code-cache-rejected");
    });

    it("never reads a file that a word of the command line names", () => {
      // Without the check, `../../planted` would make the name dist/cli/planted.cache.
      writeFileSync(join(cli, "planted.cache"), Buffer.alloc(4096, 0x5a));
      for (const word of ["../../planted", "../planted", "Run", "run/../../planted"]) {
        const r = traced(bin, [word]);
        assert.equal(r.status, 2, r.stderr);
        assert.equal(r.loaded, "split bundle", word);
      }
    });

    it("never takes a cache made for another build of the bundle", () => {
      // V8 itself compares a cache with its source by length only: an edited bundle of the same
      // length would run the old code. The build id in the bundle names its caches.
      const bundle = join(cli, "keyhold.cjs");
      const text = readFileSync(bundle, "latin1");
      const build = buildOf(bundle) as string;
      writeFileSync(
        bundle,
        text.replace(`keyhold-build=${build}`, `keyhold-build=${"0".repeat(16)}`),
        "latin1",
      );
      const r = traced(bin, ["run", "--help"]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.loaded, "split bundle");
    });
  });

  describe("a trained command that loads a package while it runs", () => {
    // The bundle imports pg (a vault on PostgreSQL) and the keyring's binding only when a command
    // needs them. V8 keeps no dynamic-import callback in a code cache: an import() in a script
    // compiled from one fails ("A dynamic import callback was not specified").
    let server: TestPostgres | string;
    const scratch = makeScratch("keyhold-code-cache-pg-");
    const root = join(scratch.root, "keyhold");
    const marker = join(scratch.root, "hostile-pg-loaded");
    before(() => {
      server = startPostgres();
      mkdirSync(root);
      for (const path of ["bin/keyhold.js", "bin/package.json", "package.json", "dist/cli"])
        cpSync(join(CHECKOUT, path), join(root, path), { recursive: true });
      symlinkSync(join(CHECKOUT, "node_modules"), join(root, "node_modules"));
      // A pg in the installation's parent directory and one on NODE_PATH: keyhold's own is
      // found first, from either bundle.
      const hostile = `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "");\nthrow new Error("hostile pg");\n`;
      for (const dir of [join(scratch.root, "node_modules/pg"), join(scratch.root, "path/pg")]) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "pg", main: "index.js" }));
        writeFileSync(join(dir, "index.js"), hostile);
      }
    });
    after(() => {
      if (typeof server !== "string") server.stop();
      scratch.cleanup();
    });

    it("vault get on PostgreSQL reads the key from the code cache, with nothing else on stderr", (t) => {
      if (typeof server === "string") return t.skip(server);
      const s = server;
      const env = { ...scratch.env, NODE_PATH: join(scratch.root, "path") };
      const bin = join(root, "bin/keyhold.js");
      const pg = ["--backend", "postgres", "--pg-host", s.host, "--pg-port", String(s.port)];
      pg.push("--pg-database", "postgres", "--pg-user", "postgres", "--pg-store", "code-cache");
      const value = makeCanary("code-cache-pg");
      for (const [args, input] of [
        [["vault", "init", ...pg], ""],
        [["vault", "put", "app/key"], value],
      ] as const) {
        const r = spawnSync(process.execPath, [bin, ...args], { env, input, encoding: "utf8" });
        assert.equal(r.status, 0, `keyhold ${args.join(" ")}: ${r.stderr}`);
      }
      for (const cache of ["on", "off"]) {
        const r = traced(bin, ["vault", "get", "app/key"], { ...env, KEYHOLD_CODE_CACHE: cache });
        assert.equal(r.status, 0, `KEYHOLD_CODE_CACHE=${cache}: ${r.stderr}`);
        assert.equal(r.stdout.trimEnd(), value);
        assert.equal(r.loaded, cache === "on" ? "code-cache" : "split bundle");
        assert.deepEqual(
          r.stderr.split("\n").filter((line) => line !== "" && !line.startsWith("keyhold: timing: ")),
          [],
          "nothing on stderr but the phase times (no warning of Node's)",
        );
      }
      assert.ok(!existsSync(marker), "a pg outside the installation was loaded");
    });
  });

  it("the training leaves no mount, no scratch directory and not its key behind", () => {
    const scratch = makeScratch("keyhold-code-cache-train-");
    try {
      const root = join(scratch.root, "keyhold");
      mkdirSync(root);
      for (const path of ["bin", "scripts/code-cache.mjs", "package.json", "dist/cli"])
        cpSync(join(CHECKOUT, path), join(root, path), { recursive: true });
      symlinkSync(join(CHECKOUT, "node_modules"), join(root, "node_modules"));
      for (const name of readdirSync(join(root, "dist/cli"))) {
        if (name.endsWith(".cache")) writeFileSync(join(root, "dist/cli", name), "");
      }
      const scratches = () =>
        readdirSync(tmpdir()).filter(
          (n) => n.startsWith("keyhold-code-cache-") && !n.startsWith("keyhold-code-cache-train-"),
        );
      const before = new Set(scratches());
      const canary = makeCanary("training");
      const r = spawnSync(process.execPath, [join(root, "scripts/code-cache.mjs")], {
        encoding: "utf8",
        env: { ...process.env, KEYHOLD_TRAINING_VALUE: canary },
      });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /warning/);
      assert.ok(!`${r.stdout}${r.stderr}`.includes(canary));
      assert.deepEqual(
        scratches().filter((n) => !before.has(n)),
        [],
      );
      assert.doesNotMatch(readFileSync("/proc/self/mountinfo", "utf8"), /keyhold-training/);
      const build = buildOf(join(root, "dist/cli/keyhold.cjs")) as string;
      for (const { argv } of TRAINING) {
        const cache = readFileSync(join(root, "dist/cli", cacheName(build, argv)));
        assert.ok(cache.length > 1024, `${argv.join(" ")}: a cache was made`);
        for (const form of [Buffer.from(canary), Buffer.from(canary, "utf16le")])
          assert.equal(cache.indexOf(form), -1, `${argv.join(" ")}: the training's key is not in its cache`);
        // V8 keeps the name the script was compiled under (an installed keyhold's stack traces
        // would name it): never the directory of the checkout that built the package.
        assert.equal(cache.indexOf(Buffer.from(root)), -1, `${argv.join(" ")}: its cache names ${root}`);
      }
    } finally {
      scratch.cleanup();
    }
  });
});
