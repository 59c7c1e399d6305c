// Shared checks of the fuzz targets: the invariants every parser of untrusted input must keep.
// Targets import keyhold's built code from dist/ (run `npm run --silent build` first).
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretError } from "../dist/src/secret/index.js";

/** A broken invariant: the fuzzer reports it as a finding, with its input. */
export class InvariantError extends Error {
  name = "InvariantError";
}

export function check(condition, message) {
  if (!condition) throw new InvariantError(message);
}

/**
 * The only errors a parser may throw are SecretErrors with one of `codes`. Anything else (a
 * TypeError from a field that was not checked, a RangeError from a Buffer method) is a finding.
 */
export function expectCoded(err, codes) {
  if (!(err instanceof SecretError)) {
    const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new InvariantError(`uncoded error (expected SecretError ${codes.join("|")}): ${what}`, {
      cause: err,
    });
  }
  check(codes.includes(err.code), `unexpected code ${err.code}: ${err.message}`);
  check(err.message.length > 0 && err.message.length <= 2000, `message of ${err.message.length} characters`);
}

/** A value that appears nowhere unless keyhold copies it: the test suite's canary shape. */
export function makeCanary(label = "canary") {
  return `kh-${label}-${randomBytes(18).toString("base64url")}`;
}

/** Fails when `canary` appears in the error's message, hint or (recursively) its cause. */
export function assertNoCanary(err, canary, where = "error") {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 8; e = e.cause, depth++) {
    const text = `${e.message ?? ""}\n${e.hint ?? ""}\n${e.stack ?? ""}`;
    check(!text.includes(canary), `the secret value appears in the ${where}`);
  }
}

/** A private scratch directory for a target, removed at exit. */
export function scratchDir(label) {
  const dir = mkdtempSync(join(tmpdir(), `keyhold-fuzz-${label}-`));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
