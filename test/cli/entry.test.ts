import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CHECKOUT } from "../support/checkout.js";
import { makeScratch } from "../support/scratch.js";

/**
 * bin/keyhold.js run where nothing is built yet (a fresh clone): it says what to run, in
 * keyhold's voice, instead of Node's ERR_MODULE_NOT_FOUND stack.
 */
const scratch = makeScratch("keyhold-entry-");
after(() => scratch.cleanup());

/** bin/keyhold.js in a directory of its own, with `files` (path: content) beside it. */
function layout(name: string, files: Record<string, string>): string {
  const root = join(scratch.root, name);
  mkdirSync(join(root, "bin"), { recursive: true });
  copyFileSync(join(CHECKOUT, "bin/keyhold.js"), join(root, "bin/keyhold.js"));
  copyFileSync(join(CHECKOUT, "bin/package.json"), join(root, "bin/package.json"));
  copyFileSync(join(CHECKOUT, "package.json"), join(root, "package.json"));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}
const run = (root: string) =>
  spawnSync(process.execPath, [join(root, "bin/keyhold.js"), "--help"], { encoding: "utf8" });

describe("bin/keyhold.js before a build", () => {
  it("a clone that was never built names the setup script", () => {
    const root = layout("clone", { "src/cli/main.ts": "" });
    const r = run(root);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^keyhold: keyhold is not built yet: .*\[NOT_BUILT\]$/m);
    assert.match(
      r.stderr,
      new RegExp(`^keyhold: hint: build it first: cd ${root} && bash scripts/setup.sh`, "m"),
    );
    assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND|^\s+at /m);
  });

  it("a built tree whose dependencies were not installed says to install them", () => {
    const root = layout("no-deps", {
      "src/cli/main.ts": "",
      "dist/src/cli/main.js":
        'import "keyhold-test-no-such-package";\nexport async function main() { return 0; }\n',
    });
    const r = run(root);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /keyhold-test-no-such-package.*\[NOT_INSTALLED\]$/m);
    assert.match(r.stderr, /^keyhold: hint: install its dependencies: cd .* && npm install --no-save$/m);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  });
});

describe("bin/keyhold.js when a command never finishes", () => {
  it("exits with a failure, not 0, once nothing is left to wait on", () => {
    // A command whose work is lost (a promise nothing will settle, with nothing left running)
    // must not pass for a success: a hook gates a commit on `keyhold scan`'s exit status.
    const root = layout("unfinished", {
      "dist/cli/keyhold.js": "export function main() {\n  return new Promise(() => {});\n}\n",
    });
    const r = run(root);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^keyhold: the command ended before it finished \[INTERNAL\]$/m);
  });
});
