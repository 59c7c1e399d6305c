/**
 * What a command loads before it does its work: `keyhold run` and `keyhold vault get` load the
 * modules they use, not the vault, the unit renderer, the rollouts or the other vault subcommands.
 * Each command runs as a real process (with --help, which loads the command and stops) under a
 * resolve hook that names every module file it loads; a bundle chunk is read as the sources its
 * source map lists, a plain compiled module as its own source.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { KEYHOLD_BIN, REPO_ROOT } from "../support/cli.js";

// Runs in the loader's own thread; one line per module file resolved.
const HOOKS = `import { writeSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const found = await next(specifier, context);
  if (found.url.startsWith("file:")) writeSync(2, "loads: " + found.url + "\\n");
  return found;
}`;
const REGISTER = `import { register } from "node:module";
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});`;

/** The src/ files behind the modules `keyhold <args>` loads. */
function sourcesLoadedBy(args: readonly string[]): Set<string> {
  const r = spawnSync(
    process.execPath,
    ["--import", `data:text/javascript,${encodeURIComponent(REGISTER)}`, KEYHOLD_BIN, ...args],
    // The split bundle: the code-cached one is a single file (test/cli/code-cache.test.ts).
    {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", KEYHOLD_CODE_CACHE: "off" },
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const sources = new Set<string>();
  for (const m of r.stderr.matchAll(/^loads: (.*)$/gm)) {
    const file = fileURLToPath(m[1] as string);
    const rel = relative(REPO_ROOT, file);
    if (rel.startsWith(join("dist", "cli"))) {
      const map = JSON.parse(readFileSync(`${file}.map`, "utf8")) as { sources: string[] };
      for (const s of map.sources) sources.add(relative(REPO_ROOT, join(file, "..", s)));
    } else if (rel.startsWith(join("dist", "src"))) {
      sources.add(rel.slice("dist/".length).replace(/\.js$/, ".ts"));
    }
  }
  assert.ok(sources.has("src/cli/main.ts"), `the hook saw keyhold's modules: ${r.stderr.slice(0, 500)}`);
  return sources;
}

const matching = (sources: Set<string>, pattern: RegExp) => [...sources].filter((s) => pattern.test(s));

describe("what a command loads", () => {
  it("keyhold run loads the store and the audit log, not the vault, the units, the scanner or the rollouts", () => {
    const sources = sourcesLoadedBy(["run", "--help"]);
    for (const used of [
      "src/cli/run.ts",
      "src/app/credentials.ts",
      "src/credstore/run.ts",
      "src/audit/log.ts",
    ])
      assert.ok(sources.has(used), `${used} is loaded`);
    assert.deepEqual(
      matching(
        sources,
        /^src\/(vault|units|scan|jobs)\/|^src\/app\/rollout|^src\/systemd\/usage\.ts$|^src\/cli\/vault\//,
      ),
      [],
    );
  });

  it("keyhold vault get loads get and how the vault opens, not the other subcommands or what they use", () => {
    const sources = sourcesLoadedBy(["vault", "get", "--help"]);
    for (const used of ["src/cli/vault/get.ts", "src/app/vault-host.ts", "src/vault/providers.ts"])
      assert.ok(sources.has(used), `${used} is loaded`);
    // The vault's own code loads once the decrypts are under way (startHostVault), not before.
    assert.ok(!sources.has("src/vault/vault.ts"), "src/vault/vault.ts waits for the decrypts");
    const subcommands = matching(sources, /^src\/cli\/vault\//).filter(
      (s) => !["src/cli/vault/index.ts", "src/cli/vault/get.ts", "src/cli/vault/shared.ts"].includes(s),
    );
    assert.deepEqual(subcommands, [], "other subcommands' modules");
    assert.deepEqual(
      matching(
        sources,
        /^src\/(units|scan|jobs)\/|^src\/app\/(rollout|credentials|vault-answer|vault-import|vault-rotation|units)|^src\/vault\/(fernet|postgres-backend)\.ts$/,
      ),
      [],
    );
  });
});
