#!/usr/bin/env node
// The bundled CLI (dist/cli, made by `npm run build`) starts fastest. The plain compiled modules
// (dist/src, made by tsc) are used when there is no bundle or when tsc ran after the bundle was
// made, so a bare `tsc` rebuild is never shadowed by a stale bundle.
import { statSync } from "node:fs";

const mtime = (rel) => {
  try {
    return statSync(new URL(rel, import.meta.url)).mtimeMs;
  } catch {
    return -1;
  }
};
const bundle = mtime("../dist/cli/keyhold.js");
const cli =
  bundle >= 0 && bundle >= mtime("../dist/src/cli/main.js")
    ? await import("../dist/cli/keyhold.js")
    : await import("../dist/src/cli/main.js");
process.exitCode = await cli.main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
