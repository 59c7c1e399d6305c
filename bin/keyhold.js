#!/usr/bin/env node
// The bundled CLI (dist/cli, made by `npm run build`) starts fastest, and in an installed package
// (no src/ beside dist/) it is the one keyhold runs, whatever times the files were given when the
// package was unpacked. In a development checkout the plain compiled modules (dist/src, made by
// tsc) are used when there is no bundle or when tsc ran after the bundle was made, so a bare `tsc`
// rebuild is never shadowed by a stale bundle.
//
// This file is CommonJS (bin/package.json): a Node.js whose first module is an ES module starts
// its ES module loader first, about 10 ms that the code-cached CLI below never needs.
"use strict";
const { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } = require("node:fs");
const { createRequire } = require("node:module");
const { join } = require("node:path");
const { pathToFileURL } = require("node:url");
const { Script } = require("node:vm");

// KEYHOLD_TRACE_TIMING=1 (src/timing.ts): phase times on stderr once the command is done.
const tracing = process.env.KEYHOLD_TRACE_TIMING === "1";
if (tracing) performance.mark("keyhold:node");

// On SIGUSR1 Node opens its inspector, a debugger on 127.0.0.1:9229 that any local user can
// connect to and run code in. keyhold often runs as root under sudo, which relays the invoking
// user's signals to it: a listener of keyhold's own means the inspector never starts.
process.on("SIGUSR1", () => {});

const root = join(__dirname, "..");
const mtime = (rel) => {
  try {
    return statSync(join(root, rel)).mtimeMs;
  } catch {
    return -1;
  }
};
const checkout = existsSync(join(root, "src/cli/main.ts"));
const current = (rel) => {
  const made = mtime(rel);
  return made >= 0 && (!checkout || made >= mtime("dist/src/cli/main.js"));
};
const entry = current("dist/cli/keyhold.js") ? "dist/cli/keyhold.js" : "dist/src/cli/main.js";

/**
 * The CLI from dist/cli/keyhold.cjs compiled with the V8 code cache made for this command at
 * build time (scripts/code-cache.mjs, which names the file the same way): V8 then skips most of
 * the parsing and compiling that loading the CLI costs. undefined when there is no cache for
 * exactly this command, build, architecture and V8 (or KEYHOLD_CODE_CACHE=off): the split bundle
 * then starts faster. The cache is code, kept beside the bundle it was made from and no more
 * writable than it.
 */
function fromCodeCache() {
  // KEYHOLD_CODE_CACHE=off: the split bundle (to compare, or to see what each command loads).
  const wanted = process.env.KEYHOLD_CODE_CACHE;
  if (wanted !== undefined && wanted !== "" && wanted !== "on" && wanted !== "off") {
    process.stderr.write(
      'keyhold: KEYHOLD_CODE_CACHE must be "on" or "off" [USAGE]\nkeyhold: hint: unset it, or set KEYHOLD_CODE_CACHE=off to start without the code cache\n',
    );
    process.exit(2);
  }
  if (wanted === "off" || !current("dist/cli/keyhold.cjs")) return undefined;
  const [word, sub] = process.argv.slice(2);
  const command = word === "vault" ? `vault-${sub}` : word;
  // The words come from the command line: only a plain command's name reaches a file name (a
  // path-like word could name another file).
  if (command === undefined || !/^[a-z][a-z-]{0,40}$/.test(command)) return undefined;
  const file = join(root, "dist/cli/keyhold.cjs");
  // One descriptor for the build id at its end and the whole source: a rebuild meanwhile cannot
  // pair one build's id with another's source.
  let fd;
  try {
    fd = openSync(file, "r");
  } catch {
    return undefined; // removed since (a rebuild)
  }
  let source;
  let cachedData;
  try {
    const { size } = fstatSync(fd);
    const tail = Buffer.alloc(Math.min(64, size));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    const build = /\/\/# keyhold-build=([0-9a-f]{16})\n$/.exec(tail.toString("latin1"))?.[1];
    if (build === undefined) return undefined;
    try {
      // As scripts/code-cache.mjs cacheName() names it.
      cachedData = readFileSync(
        join(root, "dist/cli", `keyhold-${build}-${process.arch}-${process.versions.v8}.${command}.cache`),
      );
    } catch {
      return undefined; // no cache for this command, build and V8: the split bundle is quicker
    }
    source = readFileSync(fd, "latin1"); // all ASCII (scripts/bundle.mjs): latin1 is the quick decode
  } finally {
    closeSync(fd);
  }
  // No import() callback: a script compiled from a code cache would not keep it, so the bundle
  // loads its packages with the require handed to it below (scripts/bundle.mjs).
  const script = new Script(source, { filename: file, cachedData });
  // Rejected (Node.js started with flags that change compiled code): compiled as usual, still right.
  if (tracing)
    performance.mark(script.cachedDataRejected ? "keyhold:code-cache-rejected" : "keyhold:code-cache");
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, pathToFileURL(file).href);
  return module.exports;
}

async function start() {
  let cli;
  try {
    cli = fromCodeCache() ?? (await import(pathToFileURL(join(root, entry)).href));
  } catch (err) {
    if (err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
    // Before a build (or after a checkout without `npm install`) Node would print a stack naming a
    // file under dist/ or a package: say what to run instead.
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
  // Node.js leaves when nothing is left to wait on, finished or not: an ES module entry whose
  // await never settled exits 13, this one would exit 0 as if the command had succeeded (and a
  // hook gates a commit on `keyhold scan`'s status). 'beforeExit' is that moment, never an exit().
  let finished = false;
  process.on("beforeExit", () => {
    if (finished) return;
    finished = true;
    process.stderr.write("keyhold: the command ended before it finished [INTERNAL]\n");
    process.exitCode = 1;
  });
  const code = await cli.main(process.argv.slice(2), {
    // Made when a command first reads it: most never do, and making it (a stream on a file,
    // /dev/null or a terminal) loads Node.js's stream modules, several milliseconds.
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  });
  finished = true;
  process.exitCode = code;
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
}

start();
