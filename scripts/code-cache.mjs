// Makes V8's code caches for dist/cli/keyhold.cjs (scripts/bundle.mjs), which bin/keyhold.js
// compiles the CLI with. V8 caches the functions that have been compiled, and it compiles a
// function when it first runs: so this runs each command people wait on (run, get, ls, status,
// vault get, scan, trigger, the vault's answering command) once, in a process of its own, in a
// throwaway store with a host key of its own, and saves what V8 compiled for it. One cache per
// command: one for all of them measured larger than what it saves a single command to read.
//
//   node scripts/code-cache.mjs     (npm run build runs it)
//
// As root, the commands run in a mount namespace of their own with an empty /run, so what `run`
// mounts and the key cache it fills never reach the host. Any other user makes no mounts.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";

const bundle = new URL("../dist/cli/keyhold.cjs", import.meta.url);
const keyhold = fileURLToPath(new URL("../bin/keyhold.js", import.meta.url));

/** What the training runs; each must exit 0 unless it says otherwise. */
export const TRAINING = [
  { argv: ["run", "trained", "--", "true"] },
  { argv: ["get", "trained"] },
  { argv: ["ls"] },
  { argv: ["status", "trained"] },
  { argv: ["vault", "get", "trained/key"] },
  { argv: ["scan", "tree"] },
  // No job server answers in the training: the client's options, connection and error path.
  { argv: ["trigger", "noop", "--follow", "--socket", "jobs.sock"], exit: 1 },
  { argv: ["vault", "serve-credential", "--help"] },
];

/** The build id scripts/bundle.mjs ends the bundle with (bin/keyhold.js reads it the same way). */
export const buildIdOf = (source) => /\/\/# keyhold-build=([0-9a-f]{16})\n$/.exec(source.slice(-64))?.[1];

/** The cache's file name: bin/keyhold.js looks for the same one. */
export const cacheName = (build, argv) =>
  `keyhold-${build}-${process.arch}-${process.versions.v8}.${argv[0] === "vault" ? `vault-${argv[1]}` : argv[0]}.cache`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === "--train") await train(process.argv[3], TRAINING[Number(process.argv[4])]);
  else prepare();
}

/** Makes the throwaway store (through the CLI as it stands) and runs the training child in it. */
function prepare() {
  const root = mkdtempSync(join(tmpdir(), "keyhold-code-cache-"));
  try {
    mkdirSync(join(root, "host"), { mode: 0o700 });
    mkdirSync(join(root, "tree"));
    writeFileSync(join(root, "tree", "notes.txt"), "nothing to find here\n");
    const env = {
      PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      LANG: "C.UTF-8",
      HOME: root,
      SYSTEMD_CREDENTIAL_SECRET: join(root, "host", "credential.secret"),
      KEYHOLD_STORE: join(root, "store"),
      KEYHOLD_STATE: join(root, "state"),
      KEYHOLD_KEY_CACHE: "off",
    };
    // A throwaway key (test/cli/code-cache.test.ts gives one to look for in the caches).
    const value = process.env.KEYHOLD_TRAINING_VALUE || randomBytes(24).toString("hex");
    for (const [argv, input] of [
      [["init"], ""],
      [["set", "trained"], value],
      [["vault", "init", "--with-key", "host"], ""],
      [["vault", "put", "trained/key"], value],
    ]) {
      const r = spawnSync(process.execPath, [keyhold, ...argv], { cwd: root, env, input, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`keyhold ${argv.join(" ")} exited ${r.status}: ${r.stderr.trim()}`);
    }
    const root0 = process.geteuid?.() === 0;
    for (const i of TRAINING.keys()) {
      const child = [process.execPath, fileURLToPath(import.meta.url), "--train", root, String(i)];
      // An empty /run of the training's own: `run` mounts its ramfs there, the key cache lives there.
      const argv = root0
        ? [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-ec",
            'mount -t tmpfs -o mode=0755 keyhold-training /run; exec "$@"',
            "sh",
            ...child,
          ]
        : child;
      const r = spawnSync(argv[0], argv.slice(1), {
        cwd: root,
        env: { ...env, KEYHOLD_KEY_CACHE: root0 ? "on" : "off" },
        stdio: ["ignore", "ignore", "inherit"],
      });
      if (r.status !== 0)
        throw new Error(
          `the training exited ${r.status ?? r.signal}${r.error ? `: ${r.error.message}` : ""}`,
        );
    }
  } catch (err) {
    withoutCaches(err.message);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** In the child: load the bundle the way bin/keyhold.js does, run one command, save its cache. */
async function train(root, { argv, exit = 0 }) {
  const source = readFileSync(bundle, "latin1");
  const build = buildIdOf(source);
  if (build === undefined) fail(`${fileURLToPath(bundle)} has no build id: run scripts/bundle.mjs first`);
  // V8 keeps this name in the cache, and a script compiled from it goes by it (in stack traces):
  // the bundle's place in the package, not the directory of the checkout that built it.
  const script = new Script(source, { filename: "keyhold/dist/cli/keyhold.cjs" });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle.href);
  const output = new PassThrough();
  const said = [];
  output.on("data", (chunk) => said.push(chunk));
  const code = await module.exports.main(argv, {
    stdin: Readable.from([]),
    stdout: new PassThrough().resume(),
    stderr: output,
    env: { ...process.env, PWD: root },
  });
  if (code !== exit)
    fail(`keyhold ${argv.join(" ")} exited ${code}: ${Buffer.concat(said).toString().trim()}`);
  const target = fileURLToPath(new URL(cacheName(build, argv), bundle));
  writeFileSync(`${target}.tmp`, script.createCachedData(), { mode: 0o644 });
  renameSync(`${target}.tmp`, target);
}

function fail(message) {
  process.stderr.write(`keyhold code cache: ${message}\n`);
  process.exit(1);
}

/**
 * `npm run build` goes on without caches when the training fails (no systemd-creds, say): the CLI
 * is the same, only slower to start, and test/cli/code-cache.test.ts fails where it should not.
 */
function withoutCaches(message) {
  for (const name of readdirSync(new URL(".", bundle))) {
    if (name.endsWith(".cache") || name.endsWith(".cache.tmp")) rmSync(new URL(name, bundle));
  }
  process.stderr.write(`keyhold build: warning: no code cache, the CLI starts slower: ${message}\n`);
}
