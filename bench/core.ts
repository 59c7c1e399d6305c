/**
 * Core benchmarks (issue 2): the library and `keyhold run` against the peers named in the
 * issue, measured side by side in one run on the same scratch store and throwaway host key.
 * Every peer is its real program (Node.js itself, Debian's /usr/bin/python3 resolved to its binary, the systemd-creds
 * binary); whole processes are compared with whole processes, each started the same way by this
 * script with the same environment; in-process calls with what they stand for.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { clearSecretCache, loadSecret, loadSecretSync } from "../src/index.js";
import { makeScratch } from "../test/support/scratch.js";
import {
  alternatingMedianMs,
  type Comparison,
  formatMs,
  loadNow,
  median,
  medianMs,
  pairedMedianMs,
  peakRssKiB,
  printComparison,
  printEnvironment,
  printHeader,
  realInterpreter,
  runProcess,
} from "./measure.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const keyhold = join(root, "bin", "keyhold.js");

// The usual hand-written Python loader, load_api_key(): CREDENTIALS_DIRECTORY first, else
// `systemd-creds decrypt FILE -` through subprocess, cached with lru_cache.
const PYTHON_LOADER = `
import os, subprocess
from pathlib import Path
from functools import lru_cache
CRED_NAME = "bench_key"
CRED_FILE = Path(os.environ["KEYHOLD_STORE"]) / CRED_NAME
def _decrypt_credential(path: Path) -> str:
    p = subprocess.Popen(["systemd-creds", "decrypt", str(path), "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate()
    if p.returncode != 0:
        raise RuntimeError(f"Decryption failed: {err.strip()}")
    return out.strip()
@lru_cache(maxsize=1)
def load_api_key() -> str:
    creds_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds_dir:
        key_path = Path(creds_dir) / CRED_NAME
        if key_path.exists():
            return key_path.read_text().strip()
    if not CRED_FILE.exists():
        raise FileNotFoundError(f"Credential not found: {CRED_FILE}")
    return _decrypt_credential(CRED_FILE)
load_api_key()
`;

// The floor of any Node.js program that does what `keyhold run NAME -- true` must: decrypt one
// credential with systemd-creds and start a child. No checks, no directory, no audit record.
const NODE_FLOOR = `
const { spawnSync } = require("node:child_process");
const r = spawnSync("/usr/bin/systemd-creds", ["decrypt", "--name=bench_key", process.env.KEYHOLD_STORE + "/bench_key", "-"]);
if (r.status !== 0) process.exit(1);
r.stdout.fill(0);
spawnSync("true");
`;

function cli(args: string[], env: NodeJS.ProcessEnv, input?: string): void {
  const r = spawnSync(process.execPath, [keyhold, ...args], { env, input, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`keyhold ${args.join(" ")}: ${r.stderr}`);
}

/**
 * Where one `keyhold run` spends its time (KEYHOLD_TRACE_TIMING=1, src/timing.ts): the median of
 * each phase over `runs` runs, in the order the phases end.
 */
function runBreakdown(argv: string[], env: NodeJS.ProcessEnv, runs: number): [string, number][] {
  const phases = new Map<string, number[]>();
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(argv[0] as string, argv.slice(1), {
      env: { ...env, KEYHOLD_TRACE_TIMING: "1" },
      stdio: ["ignore", "ignore", "pipe"],
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
    for (const m of r.stderr.matchAll(/^keyhold: timing: (\S+) ([0-9.]+) ms/gm)) {
      const list = phases.get(m[1] as string) ?? [];
      list.push(Number(m[2]));
      phases.set(m[1] as string, list);
    }
  }
  return [...phases].map(([name, times]) => [name, median(times)]);
}

/** What each phase of the breakdown covers. */
const PHASES: Record<string, string> = {
  node: "Node.js start-up, to the first line of bin/keyhold.js",
  "code-cache": "reading dist/cli/keyhold.cjs and compiling it with the run command's V8 code cache",
  bundle: "running the bundle's top level (from the code cache), or loading the split bundle (dist/cli/keyhold.js)",
  command: "loading the run command's modules",
  "decrypt-started":
    "arguments, audit log opening started (the audit key from the key cache, else its decrypt spawned), credential decrypts spawned",
  decrypted: "the directory's place made ready and swept; the decrypts finish",
  "audit-ready": "the audit log open and checked writable",
  directory: "the private directory and its files",
  spawned: "starting the child",
  child: "the child runs (`true`)",
  cleanup: "wiping and removing the directory",
  done: "the audit record (fsyncs) and exit",
};

async function main(): Promise<void> {
  const s = makeScratch("keyhold-bench-");
  try {
    const env = s.env;
    cli(["init"], env);
    cli(["set", "bench_key"], env, `bench-${"x".repeat(40)}`);
    const credentialsDirectory = join(s.root, "credentials");
    mkdirSync(credentialsDirectory, { mode: 0o700 });
    writeFileSync(join(credentialsDirectory, "bench_key"), "bench-value", { mode: 0o400 });
    const pyFile = join(s.root, "load_api_key.py");
    writeFileSync(pyFile, PYTHON_LOADER);
    printEnvironment(env);

    const results: Comparison[] = [];
    const systemdCreds = realInterpreter(["/usr/bin/systemd-creds"]);
    const bareDecrypt = () =>
      runProcess([systemdCreds, "decrypt", "--name=bench_key", join(s.store, "bench_key"), "-"], env);

    const [storeLoad, bareMs] = await pairedMedianMs(
      () => loadSecret("bench_key", { env, cache: false }),
      bareDecrypt,
      40,
    );
    results.push({
      what: "load from the encrypted credstore",
      how: "in-process vs a process it starts",
      ours: "loadSecret (uncached)",
      oursMs: storeLoad,
      peer: "bare `systemd-creds decrypt` process, started by the same Node.js process",
      peerMs: bareMs,
      goal: "≤ 1.10×",
      met: storeLoad / bareMs <= 1.1,
    });

    // The same decrypt started as loadSecret starts it: asynchronously, the ciphertext on stdin,
    // so the caller's event loop keeps running. What loadSecret adds to that is its own work.
    const asyncDecrypt = () =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(systemdCreds, ["decrypt", "--name=bench_key", "-", "-"], { env });
        child.stdout.resume();
        child.stderr.resume();
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`systemd-creds exited ${code}`))));
        child.stdin.end(readFileSync(join(s.store, "bench_key")));
      });
    const [storeLoadAsync, asyncMs] = await pairedMedianMs(
      () => loadSecret("bench_key", { env, cache: false }),
      asyncDecrypt,
      40,
    );
    results.push({
      what: "load from the encrypted credstore, against the same decrypt started the same way",
      how: "in-process vs a process it starts",
      ours: "loadSecret (uncached)",
      oursMs: storeLoadAsync,
      peer: "`systemd-creds decrypt - -` started asynchronously, the ciphertext on stdin (as loadSecret starts it)",
      peerMs: asyncMs,
      goal: "—",
      met: undefined,
    });

    const [storeLoadSync, bareMs2] = await pairedMedianMs(
      () => loadSecretSync("bench_key", { env, cache: false }),
      bareDecrypt,
      40,
    );
    results.push({
      what: "load from the encrypted credstore, synchronously",
      how: "in-process vs a process it starts",
      ours: "loadSecretSync (uncached)",
      oursMs: storeLoadSync,
      peer: "bare `systemd-creds decrypt` process, started by the same Node.js process",
      peerMs: bareMs2,
      goal: "≤ 1.10×",
      met: storeLoadSync / bareMs2 <= 1.1,
    });

    const dirEnv = { ...env, CREDENTIALS_DIRECTORY: credentialsDirectory };
    const [dirLoad, rawRead] = await pairedMedianMs(
      () => loadSecret("bench_key", { env: dirEnv, cache: false }),
      () => readFileSync(join(credentialsDirectory, "bench_key")),
      2000,
    );
    results.push({
      what: "load from $CREDENTIALS_DIRECTORY",
      how: "in-process",
      ours: "loadSecret (uncached)",
      oursMs: dirLoad,
      peer: "fs.readFileSync",
      peerMs: rawRead,
      goal: "≤ 2×",
      met: dirLoad / rawRead <= 2,
    });

    clearSecretCache();
    await loadSecret("bench_key", { env: dirEnv });
    const batch = 10_000;
    const hitBatch = await medianMs(async () => {
      for (let i = 0; i < batch; i++) await loadSecret("bench_key", { env: dirEnv });
    }, 20);
    const hit = hitBatch / batch;
    const emptyBatch = await medianMs(async () => {
      for (let i = 0; i < batch; i++) await Promise.resolve(i);
    }, 20);
    results.push({
      what: "cache hit (per call, awaited)",
      how: "in-process",
      ours: "loadSecret (cached)",
      oursMs: hit,
      peer: "an awaited no-op",
      peerMs: emptyBatch / batch,
      goal: "< 1 µs",
      met: hit < 0.001,
    });

    // Three whole processes, alternately, the same environment each: keyhold run, Node.js
    // starting and doing nothing, and Debian's interpreter itself (never PATH's python3, which
    // may be a version manager's shim) running the hand-written loader.
    const python = realInterpreter(["/usr/bin/python3"]);
    const runArgv = [process.execPath, keyhold, "run", "bench_key", "--", "true"];
    const floorFile = join(s.root, "floor.cjs");
    writeFileSync(floorFile, NODE_FLOOR);
    const [runMs, nodeMs, pyMs, floorMs, uncachedMs] = (await alternatingMedianMs(
      [
        () => runProcess(runArgv, env),
        () => runProcess([process.execPath, "-e", "0"], env),
        () => runProcess([python, pyFile], env),
        () => runProcess([process.execPath, floorFile], env),
        () => runProcess(runArgv, { ...env, KEYHOLD_CODE_CACHE: "off" }),
      ],
      25,
    )) as [number, number, number, number, number];
    results.push({
      what: "a process that gets the key, start to exit",
      how: "whole processes",
      ours: "`keyhold run bench_key -- true`",
      oursMs: runMs,
      peer: "`node -e 0` (Node.js start-up alone)",
      peerMs: nodeMs,
      goal: "≤ 1.5×",
      met: runMs / nodeMs <= 1.5,
    });
    results.push({
      what: "a process that gets the key, start to exit",
      how: "whole processes",
      ours: "`keyhold run bench_key -- true`",
      oursMs: runMs,
      peer: "/usr/bin/python3 running a hand-written load_api_key() (systemd-creds decrypt in a subprocess)",
      peerMs: pyMs,
      goal: "≤ 1.5×",
      met: runMs / pyMs <= 1.5,
    });

    results.push({
      what: "the floor: Node.js decrypting with systemd-creds, then starting the child (no checks, no directory, no audit)",
      how: "whole processes",
      ours: "that Node.js script",
      oursMs: floorMs,
      peer: "`node -e 0` (Node.js start-up alone)",
      peerMs: nodeMs,
      goal: "— (the least any Node.js tool decrypting through systemd-creds can cost)",
      met: undefined,
    });
    results.push({
      what: "what keyhold adds to that floor",
      how: "whole processes",
      ours: "`keyhold run bench_key -- true`",
      oursMs: runMs,
      peer: "the floor script above",
      peerMs: floorMs,
      goal: "—",
      met: undefined,
    });
    results.push({
      what: "what the code cache saves (bin/keyhold.js, scripts/code-cache.mjs)",
      how: "whole processes",
      ours: "`keyhold run bench_key -- true`",
      oursMs: runMs,
      peer: "the same with KEYHOLD_CODE_CACHE=off (the split bundle)",
      peerMs: uncachedMs,
      goal: "—",
      met: undefined,
    });
    printHeader(`core (${new Date().toISOString().slice(0, 10)}, ${process.version}, systemd-creds)`);
    for (const r of results) printComparison(r);
    console.log(`\nLoad average after the table: ${loadNow()}.`);

    const runPeak = peakRssKiB(runArgv, env);
    const nodePeak = peakRssKiB([process.execPath, "-e", "0"], env);
    console.log(
      `\nPeak memory (maximum resident set, GNU time, largest of 5): \`keyhold run bench_key -- true\` ${runPeak ?? "?"} KiB, \`node -e 0\` ${nodePeak ?? "?"} KiB.`,
    );

    const phases = runBreakdown(runArgv, env, 15);
    console.log(
      "\n#### Where `keyhold run bench_key -- true` spends its time (KEYHOLD_TRACE_TIMING=1, medians of 15)\n",
    );
    console.log("| phase | median | covers |");
    console.log("| --- | --- | --- |");
    for (const [name, ms] of phases) console.log(`| ${name} | ${formatMs(ms)} | ${PHASES[name] ?? ""} |`);
  } finally {
    s.cleanup();
  }
}

await main();
