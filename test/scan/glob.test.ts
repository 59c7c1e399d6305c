import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { globMatcher, loadPolicy } from "../../src/scan/policy.js";
import { isSecretError } from "../../src/secret/index.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * allow.paths globs: the state-set matcher agrees with the regular expressions the policy used
 * before (kept here as the reference), and a pattern built to make a backtracking matcher explode
 * is answered at once. A policy may come with the repository being scanned.
 */

/** The reference: the translation to a RegExp the scanner used until it was replaced. */
function referenceRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob.charAt(i);
    if (ch === "*" && glob.charAt(i + 1) === "*") {
      i++;
      if (glob.charAt(i + 1) === "/") {
        i++;
        re += "(?:.*/)?";
      } else re += ".*";
    } else if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  const anchored = glob.includes("/") ? re.replace(/^\//, "") : `(?:.*/)?${re}`;
  return new RegExp(`^${anchored}(?:/.*)?$`);
}

const GLOBS = [
  "*.pem",
  "fixtures",
  "test/fixtures",
  "test/fixtures/**",
  "**/fixtures/*.json",
  "docs/*.md",
  "/root-only.txt",
  "src/**/secret?.ts",
  "a/**/b/**/c",
  "**",
  "*",
  "?",
  "a?c",
  "**/*.min.js",
  "vendor/**/",
  "x/*/y",
  "*a*b",
  "a.b+c(d)",
];

const PATHS = [
  "key.pem",
  "a/key.pem",
  "a/b/key.pem",
  "fixtures",
  "fixtures/x.json",
  "test/fixtures/a/b.json",
  "test/fixturesX/a.json",
  "x/test/fixtures/a.json",
  "lib/fixtures/data.json",
  "lib/fixtures/deep/data.json",
  "docs/readme.md",
  "docs/sub/readme.md",
  "root-only.txt",
  "sub/root-only.txt",
  "src/secret1.ts",
  "src/a/b/secret2.ts",
  "src/a/b/secret22.ts",
  "a/b/c",
  "a/x/b/y/c",
  "a/b/c/d",
  "abc",
  "a/abc",
  "b",
  "app.min.js",
  "dist/app.min.js",
  "vendor/lib/x.js",
  "x/1/y",
  "x/1/2/y",
  "zzab",
  "zz/ab",
  "a.b+c(d)",
  "a.bbc(d)",
];

describe("allow.paths globs", () => {
  it("match exactly what the regular expressions they replace matched", () => {
    for (const glob of GLOBS) {
      const match = globMatcher(glob);
      const reference = referenceRegExp(glob);
      for (const path of PATHS) assert.equal(match(path), reference.test(path), `${glob} on ${path}`);
    }
  });

  it("agree with them on thousands of random patterns and paths", () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const pick = (parts: string[], length: number) =>
      Array.from({ length }, () => parts[random(parts.length)]).join("");
    for (let i = 0; i < 3000; i++) {
      const glob = pick(["a", "b", "/", "*", "?", "**", "**/", "."], 1 + random(6));
      const path = pick(["a", "b", "/", "."], 1 + random(8)).replace(/^\/+/, "") || "a";
      assert.equal(globMatcher(glob)(path), referenceRegExp(glob).test(path), `${glob} on ${path}`);
    }
  });

  it("answer a pattern built for backtracking at once", (t) => {
    const glob = `${"*a".repeat(40)}*b`;
    const path = "a".repeat(4000);
    const started = process.hrtime.bigint();
    assert.equal(globMatcher(glob)(path), false);
    assert.equal(globMatcher(`**/${"*a".repeat(40)}*b`)(`${"a/".repeat(1000)}x`), false);
    t.diagnostic(`${Number(process.hrtime.bigint() - started) / 1e6} ms`);
  });

  it("refuse a policy with too many or too long patterns", () => {
    const dir = mkdtempSync(join(tmpdir(), "keyhold-glob-"));
    try {
      const write = (paths: string[]) => {
        const path = join(dir, "policy.json");
        writeFileSync(path, JSON.stringify({ version: 1, allow: { paths } }));
        return path;
      };
      for (const paths of [Array.from({ length: 257 }, (_, i) => `p${i}`), ["x".repeat(513)], [""]]) {
        assert.throws(
          () => loadPolicy(write(paths), true),
          (e: unknown) => isSecretError(e, "INVALID_FORMAT"),
        );
      }
      assert.equal(loadPolicy(write(["*.pem"]), true).pathAllowed("a/b.pem"), true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
