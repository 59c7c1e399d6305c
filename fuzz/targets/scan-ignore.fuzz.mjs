// The .gitleaksignore and .secretlintignore a scanned repository brings (src/scan/ignore-files.ts).
// Mode 0 (first byte even): the bytes as a .gitleaksignore. Invariant: INVALID_FORMAT or entries
// that are well formed (a file, a rule id, a line from 1, a 40/64-hex commit when present), and a
// matcher that accepts a finding at exactly each entry's file and line. Mode 1 (odd): the bytes as
// a .secretlintignore. Invariant: INVALID_FORMAT or a matcher that answers a boolean for any path,
// and never ignores a path when every pattern was negated.
import { gitleaksMatcher, parseGitleaksIgnore, parseSecretlintIgnore } from "../../dist/src/scan/ignore-files.js";
import { check, expectCoded } from "../support.mjs";

const PATHS = ["a", "src/config.ts", ".env", "deep/er/path/file.json", "fixtures/x", "", "a:b", "#x", "!y"];

export function fuzz(data) {
  const bytes = data.subarray(1);
  if (data.length > 0 && data[0] & 1) {
    let ignored;
    try {
      ignored = parseSecretlintIgnore(bytes);
    } catch (err) {
      expectCoded(err, ["INVALID_FORMAT"]);
      return;
    }
    const text = bytes.toString("utf8");
    const allNegated = text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"))
      .every((l) => l.startsWith("!"));
    for (const path of PATHS) {
      const got = ignored(path);
      check(typeof got === "boolean", "ignored() answers a boolean");
      if (allNegated) check(got === false, `only negations, yet ${JSON.stringify(path)} is ignored`);
    }
    return;
  }
  let entries;
  try {
    entries = parseGitleaksIgnore(bytes);
  } catch (err) {
    expectCoded(err, ["INVALID_FORMAT"]);
    return;
  }
  const accepts = gitleaksMatcher(entries);
  for (const e of entries) {
    check(e.file.length > 0 && Number.isInteger(e.line) && e.line >= 1, "entry shape");
    check(/^[A-Za-z0-9_.-]{1,128}$/.test(e.rule), "rule id");
    check(e.commit === undefined || /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(e.commit), "commit");
    // An id keyhold has no counterpart of matches any rule at its file and line.
    if (e.rule.startsWith("zz-"))
      check(accepts({ path: e.file, line: e.line, rule: "jwt", commit: e.commit }), "unmapped id at its place");
    check(!accepts({ path: `${e.file}\0other`, line: e.line, rule: "jwt" }), "another file");
  }
}
