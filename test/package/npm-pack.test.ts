import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CHECKOUT } from "../support/checkout.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";

/**
 * What `npm pack` makes of this checkout, installed as a user would: globally into a prefix
 * (`npm install -g`), and as an application's dependency. Dependencies come from npm's cache when
 * it has them (--prefer-offline). Needs a built checkout (npm run build).
 */
const npm = (args: string[], cwd: string) =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd,
    encoding: "utf8",
    timeout: 300_000,
  });

describe("npm pack", () => {
  let scratch: Scratch;
  let tarball: string;
  let prefix: string;
  let installed: string;

  before(() => {
    scratch = makeScratch("keyhold-pack-");
    const out = join(scratch.root, "pack");
    mkdirSync(out);
    // --ignore-scripts: prepack would build again; the suite runs on a build already.
    npm(["pack", "--silent", "--ignore-scripts", "--pack-destination", out], CHECKOUT);
    const [file] = readdirSync(out);
    tarball = join(out, file as string);
    prefix = join(scratch.root, "prefix");
    npm(["install", "-g", "--prefer-offline", "--prefix", prefix, tarball], scratch.root);
    installed = join(prefix, "lib/node_modules/keyhold");
  });
  after(() => scratch.cleanup());

  it("holds the license, the bundle and the compiled library, and no sources", () => {
    const files = execFileSync("tar", ["tzf", tarball], { encoding: "utf8" }).split("\n");
    for (const f of [
      "package/LICENSE",
      "package/bin/keyhold.js",
      "package/dist/cli/keyhold.js",
      "package/dist/src/index.js",
    ])
      assert.ok(files.includes(f), f);
    assert.ok(!files.some((f) => f.startsWith("package/src/") || f.startsWith("package/dist/test/")));
    assert.match(
      readFileSync(join(installed, "LICENSE"), "utf8"),
      /^MIT License\n\nCopyright \(c\) 2026 keyhold contributors$/m,
    );
  });

  it("installed with npm install -g, starts from its bundle whatever the file times", () => {
    // The compiled modules newer than the bundle: a checkout would take them, a package must not.
    const later = new Date(Date.now() + 3_600_000);
    utimesSync(join(installed, "dist/src/cli/main.js"), later, later);
    const past = new Date("2000-01-01T00:00:00Z");
    utimesSync(join(installed, "dist/cli/keyhold.js"), past, past);
    const trace = join(scratch.root, "open.trace");
    const r = spawnSync(
      "strace",
      ["-f", "-e", "trace=openat,open", "-o", trace, join(prefix, "bin/keyhold"), "--help"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^usage: keyhold COMMAND/);
    const opened = readFileSync(trace, "utf8");
    assert.match(opened, /dist\/cli\/keyhold\.js/);
    assert.doesNotMatch(opened, /dist\/src\/cli\/main\.js/, "started from the unbundled modules");
  });

  it("installed, compiles a trained command from the code cache the build made", () => {
    const r = spawnSync(join(prefix, "bin/keyhold"), ["run", "--help"], {
      env: { PATH: process.env.PATH, KEYHOLD_TRACE_TIMING: "1" },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^usage: keyhold run/);
    assert.match(r.stderr, /^keyhold: timing: code-cache /m);
  });

  it("an application installs it and imports the library, from ESM and from CommonJS", () => {
    const app = join(scratch.root, "app");
    mkdirSync(app);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "my-app", private: true, type: "module" }),
    );
    npm(["install", "--prefer-offline", tarball], app);
    const token = makeCanary("pack");
    const file = join(app, "token");
    writeFileSync(file, token, { mode: 0o600 });
    writeFileSync(
      join(app, "main.js"),
      'import { loadSecret } from "keyhold";\nconst key = await loadSecret("api_token");\nconsole.log(String(key), key.verify(process.argv[2]));\n',
    );
    writeFileSync(
      join(app, "legacy.cjs"),
      'async function main() {\n  const { loadSecret } = await import("keyhold");\n  const key = await loadSecret("api_token");\n  console.log(String(key), key.verify(process.argv[2]));\n}\nmain();\n',
    );
    chmodSync(app, 0o755);
    for (const script of ["main.js", "legacy.cjs"]) {
      const r = spawnSync(process.execPath, [script, token], {
        cwd: app,
        env: { PATH: process.env.PATH, API_TOKEN_FILE: file },
        encoding: "utf8",
      });
      assert.equal(r.status, 0, `${script}: ${r.stderr}`);
      assert.equal(r.stdout, "[REDACTED] true\n", script);
    }
  });
});
