import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { CHECKOUT } from "../support/checkout.js";

/**
 * The README, docs/ and the sources speak for themselves: none of them points at documents a
 * reader of the repository does not have (the planning notes keyhold was built from).
 */
const OUTSIDE = [/\bseeds? 0\d\d/i, /\bseeds? §/i, /\b0\d\d approach \d/, /\bDESIGN\b/];

function files(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((entry) => files(join(path, entry)));
}

describe("docs and sources are self-contained", () => {
  it("README.md, docs/, src/, bench/, scripts/ and test/ never mention outside documents", () => {
    const found: string[] = [];
    for (const top of ["README.md", "docs", "src", "bench", "scripts", "test"]) {
      for (const path of files(join(CHECKOUT, top))) {
        if (!/\.(md|ts|js|mjs|sh)$/.test(path)) continue;
        readFileSync(path, "utf8")
          .split("\n")
          .forEach((line, i) => {
            if (OUTSIDE.some((re) => re.test(line)) && !line.includes("OUTSIDE = "))
              found.push(`${relative(CHECKOUT, path)}:${i + 1}: ${line.trim().slice(0, 100)}`);
          });
      }
    }
    assert.deepEqual(found, []);
  });

  it("every documented job-server setup reloads systemd before enabling the socket it installed", () => {
    for (const doc of ["README.md", "docs/jobserver.md"]) {
      const lines = readFileSync(join(CHECKOUT, doc), "utf8").split("\n");
      const enables = lines.filter((l) => /systemctl enable --now keyhold-jobs\.socket/.test(l));
      assert.ok(enables.length > 0, doc);
      for (const line of enables) assert.match(line, /systemctl daemon-reload && /, `${doc}: ${line}`);
    }
  });
});
