#!/usr/bin/env node
// The bundled CLI (dist/cli, made by `npm run build`) starts fastest. The plain compiled modules
// (dist/src, made by tsc) are used when there is no bundle or when tsc ran after the bundle was
// made, so a bare `tsc` rebuild is never shadowed by a stale bundle.
import { statSync } from "node:fs";

// On SIGUSR1 Node opens its inspector, a debugger on 127.0.0.1:9229 that any local user can
// connect to and run code in. keyhold often runs as root under sudo, which relays the invoking
// user's signals to it: a listener of keyhold's own means the inspector never starts.
process.on("SIGUSR1", () => {});

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
