/**
 * Core benchmarks (issue 2): the library and `keyhold run` against the peers named in the
 * issue, measured side by side in one run on the same scratch store and throwaway host key.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { clearSecretCache, loadSecret, loadSecretSync } from "../src/index.js";
import { makeScratch } from "../test/support/scratch.js";
import {
  type Comparison,
  medianMs,
  medianProcessMs,
  pairedMedianMs,
  printComparison,
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

function cli(args: string[], env: NodeJS.ProcessEnv, input?: string): void {
  const r = spawnSync(process.execPath, [keyhold, ...args], { env, input, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`keyhold ${args.join(" ")}: ${r.stderr}`);
}

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

    const results: Comparison[] = [];

    const [storeLoad, bareDecrypt] = await pairedMedianMs(
      () => loadSecret("bench_key", { env, cache: false }),
      () =>
        runProcess(["systemd-creds", "decrypt", "--name=bench_key", join(s.store, "bench_key"), "-"], env),
      40,
    );
    results.push({
      what: "load from the encrypted credstore",
      ours: "loadSecret (uncached)",
      oursMs: storeLoad,
      peer: "bare `systemd-creds decrypt` process",
      peerMs: bareDecrypt,
      goal: "≤ 1.15×",
      met: storeLoad / bareDecrypt <= 1.15,
    });

    const [storeLoadSync, bareDecrypt2] = await pairedMedianMs(
      () => loadSecretSync("bench_key", { env, cache: false }),
      () =>
        runProcess(["systemd-creds", "decrypt", "--name=bench_key", join(s.store, "bench_key"), "-"], env),
      40,
    );
    results.push({
      what: "load from the encrypted credstore, synchronously",
      ours: "loadSecretSync (uncached)",
      oursMs: storeLoadSync,
      peer: "bare `systemd-creds decrypt` process",
      peerMs: bareDecrypt2,
      goal: "≤ 1.15×",
      met: storeLoadSync / bareDecrypt2 <= 1.15,
    });

    const dirEnv = { ...env, CREDENTIALS_DIRECTORY: credentialsDirectory };
    const [dirLoad, rawRead] = await pairedMedianMs(
      () => loadSecret("bench_key", { env: dirEnv, cache: false }),
      () => readFileSync(join(credentialsDirectory, "bench_key")),
      2000,
    );
    results.push({
      what: "load from $CREDENTIALS_DIRECTORY",
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
      ours: "loadSecret (cached)",
      oursMs: hit,
      peer: "an awaited no-op",
      peerMs: emptyBatch / batch,
      goal: "< 1 µs",
      met: hit < 0.001,
    });

    // Debian's interpreter itself, never PATH's python3 (which may be a version manager's shim).
    const python = realInterpreter(["/usr/bin/python3"]);
    const [runMs, pyMs] = await pairedMedianMs(
      () => runProcess([process.execPath, keyhold, "run", "bench_key", "--", "true"], env),
      () => runProcess([python, pyFile], env),
      25,
    );
    results.push({
      what: "a process that gets the key, start to exit",
      ours: "`keyhold run bench_key -- true`",
      oursMs: runMs,
      peer: "a hand-written Python loader, load_api_key()",
      peerMs: pyMs,
      goal: "≤ 0.9×",
      met: runMs / pyMs <= 0.9,
    });
    const nodeMs = await medianProcessMs([process.execPath, "-e", "0"], 25, env);
    results.push({
      what: "for scale: Node.js start-up alone",
      ours: "`node -e 0`",
      oursMs: nodeMs,
      peer: "a hand-written Python loader, load_api_key()",
      peerMs: pyMs,
      goal: "(reference)",
      met: true,
    });

    printHeader(
      `core (${new Date().toISOString().slice(0, 10)}, ${process.version}, systemd-creds, ${cpuModel()})`,
    );
    for (const r of results) printComparison(r);
  } finally {
    s.cleanup();
  }
}

function cpuModel(): string {
  const info = readFileSync("/proc/cpuinfo", "utf8");
  return `${/model name\s*:\s*(.*)/.exec(info)?.[1]?.trim() ?? "unknown cpu"}, ${info.match(/^processor/gm)?.length ?? "?"} cores`;
}

await main();
