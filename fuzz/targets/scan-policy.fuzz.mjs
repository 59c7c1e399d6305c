// The scan policy file (src/scan/policy.ts), which comes with the repository being scanned, and
// its globs. Mode 0: the file's text. Invariant: INVALID_FORMAT or a policy whose matchers answer
// for any path. Mode 1: a glob and a path. Invariant: globMatcher agrees with a plain recursive
// matcher written from docs/scan.md's description (`*`, `**`, `?`, unanchored without '/',
// a directory pattern covers what is below it).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { globMatcher, loadPolicy } from "../../dist/src/scan/policy.js";
import { check, expectCoded, scratchDir } from "../support.mjs";

const dir = scratchDir("policy");
const file = join(dir, ".keyhold-scan.json");

/** The reference: memoised recursion over (glob index, path index). */
function referenceMatch(glob, path) {
  const anchored = glob.includes("/");
  const g = anchored ? glob.replace(/^\//, "") : glob;
  const memo = new Map();
  const at = (i, j) => {
    const key = i * (path.length + 1) + j;
    if (memo.has(key)) return memo.get(key);
    let r;
    if (i === g.length) r = j === path.length || path[j] === "/";
    else if (g.startsWith("**/", i)) {
      r = at(i + 3, j);
      for (let k = j; !r && k < path.length; k++) if (path[k] === "/") r = at(i + 3, k + 1);
    } else if (g.startsWith("**", i)) {
      r = false;
      for (let k = j; !r && k <= path.length; k++) r = at(i + 2, k);
    } else if (g[i] === "*") {
      r = false;
      for (let k = j; !r && k <= path.length; k++) {
        r = at(i + 1, k);
        if (path[k] === "/") break;
      }
    } else if (g[i] === "?") r = j < path.length && path[j] !== "/" && at(i + 1, j + 1);
    else r = j < path.length && path[j] === g[i] && at(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  if (anchored) return at(0, 0);
  if (at(0, 0)) return true;
  for (let k = 0; k < path.length; k++) if (path[k] === "/" && at(0, k + 1)) return true;
  return false;
}

export function fuzz(data) {
  if (data.length > 0 && data[0] & 1) {
    const text = data.subarray(1).toString("utf8");
    const split = text.indexOf("\n");
    const glob = (split < 0 ? text : text.slice(0, split)).slice(0, 64);
    const path = split < 0 ? "" : text.slice(split + 1, split + 1 + 128);
    if (glob.length === 0) return;
    const got = globMatcher(glob)(path);
    check(got === referenceMatch(glob, path), `glob ${JSON.stringify(glob)} on ${JSON.stringify(path)}: ${got}`);
    return;
  }
  writeFileSync(file, data.subarray(1));
  let policy;
  try {
    policy = loadPolicy(file, true);
  } catch (err) {
    expectCoded(err, ["INVALID_FORMAT"]);
    return;
  }
  for (const path of ["a", "src/config.ts", ".env", "deep/er/path/file.json", ""]) {
    check(typeof policy.pathAllowed(path) === "boolean", "pathAllowed");
  }
  check(policy.accepts({ id: "x", rule: "r", path: "p" }) === policy.accepted.some((a) => a.id === "x"), "accepts");
}
