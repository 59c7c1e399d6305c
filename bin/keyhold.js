#!/usr/bin/env node
// The bundled CLI (dist/cli, made by `npm run build`) starts fastest, and in an installed package
// (no src/ beside dist/) it is the one keyhold runs, whatever times the files were given when the
// package was unpacked. In a development checkout the plain compiled modules (dist/src, made by
// tsc) are used when there is no bundle or when tsc ran after the bundle was made, so a bare `tsc`
// rebuild is never shadowed by a stale bundle.
import { existsSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

// KEYHOLD_TRACE_TIMING=1 (src/timing.ts): phase times on stderr once the command is done.
const tracing = process.env.KEYHOLD_TRACE_TIMING === "1";
if (tracing) performance.mark("keyhold:node");

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
const checkout = existsSync(new URL("../src/cli/main.ts", import.meta.url));
const bundle = mtime("../dist/cli/keyhold.js");
const entry =
  bundle >= 0 && (!checkout || bundle >= mtime("../dist/src/cli/main.js"))
    ? "../dist/cli/keyhold.js"
    : "../dist/src/cli/main.js";

let cli;
try {
  cli = await import(entry);
} catch (err) {
  if (err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
  // Before a build (or after a checkout without `npm install`) Node would print a stack naming a
  // file under dist/ or a package: say what to run instead.
  const root = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
  const built = mtime(entry) >= 0;
  const lines = built
    ? [
        `keyhold: a module keyhold needs is missing: ${String(err.message).split("\n")[0]} [NOT_INSTALLED]`,
        `keyhold: hint: install its dependencies: cd ${root} && npm install --no-save`,
      ]
    : [
        `keyhold: keyhold is not built yet: ${root}/dist has no CLI [NOT_BUILT]`,
        checkout
          ? `keyhold: hint: build it first: cd ${root} && bash scripts/setup.sh (or: npm install --no-save && npm run build)`
          : "keyhold: hint: reinstall the package (npm install -g keyhold, or the .deb)",
      ];
  process.stderr.write(`${lines.join("\n")}\n`);
  process.exit(1);
}
if (tracing) performance.mark("keyhold:bundle");
process.exitCode = await cli.main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
if (tracing) {
  performance.mark("keyhold:done");
  let previous = 0;
  for (const { name, startTime } of performance.getEntriesByType("mark")) {
    if (!name.startsWith("keyhold:")) continue;
    const phase = name.slice("keyhold:".length);
    process.stderr.write(
      `keyhold: timing: ${phase} ${(startTime - previous).toFixed(1)} ms (at ${startTime.toFixed(1)} ms)\n`,
    );
    previous = startTime;
  }
}
