#!/usr/bin/env node
// The bundled CLI (dist/cli, made by `npm run build`) starts fastest; the plain compiled
// modules are the fallback for a tree built with tsc alone.
let cli;
try {
  cli = await import("../dist/cli/keyhold.js");
} catch (err) {
  if (err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
  cli = await import("../dist/src/cli/main.js");
}
process.exitCode = await cli.main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
