import { Worker } from "node:worker_threads";

/**
 * Samples /proc/<pid>/cmdline and /proc/<pid>/environ of every process in a tight loop, in a
 * worker thread of the test process (so the test's own event loop keeps driving the CLI), and
 * reports every process in which one of the needles appeared. As root it can read every
 * process's environment.
 */
export interface ProcHit {
  pid: number;
  file: "cmdline" | "environ";
  needle: string;
  /** The process's argv[0..2], to say who leaked. */
  command: string;
}

export interface SampleReport {
  sweeps: number;
  hits: ProcHit[];
  /** How many distinct pids were seen whose cmdline contained each watched word. */
  seen: Record<string, number>;
  /** Distinct pids whose environment held CREDENTIALS_DIRECTORY=. */
  credentialsDirectoryEnvironments: number;
}

const WORKER_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const { readdirSync, readFileSync } = require("node:fs");
const needles = workerData.needles.map((n) => ({ text: n, bytes: Buffer.from(n, "utf8") }));
const watch = workerData.watch;
const stop = new Int32Array(workerData.stop);
const hits = new Map();
const seen = Object.fromEntries(watch.map((w) => [w, new Set()]));
const credDirs = new Set();
const marker = Buffer.from("CREDENTIALS_DIRECTORY=");
let sweeps = 0;
function commandOf(pid) {
  try {
    return readFileSync("/proc/" + pid + "/cmdline").toString("utf8").split("\\0").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}
while (Atomics.load(stop, 0) === 0) {
  let pids;
  try {
    pids = readdirSync("/proc");
  } catch {
    continue;
  }
  for (const pid of pids) {
    if (pid.charCodeAt(0) < 48 || pid.charCodeAt(0) > 57) continue;
    for (const file of ["cmdline", "environ"]) {
      let bytes;
      try {
        bytes = readFileSync("/proc/" + pid + "/" + file);
      } catch {
        continue;
      }
      for (const n of needles) {
        if (bytes.includes(n.bytes)) {
          const key = pid + "/" + file + "/" + n.text;
          if (!hits.has(key)) hits.set(key, { pid: Number(pid), file, needle: n.text, command: commandOf(pid) });
        }
      }
      if (file === "cmdline") {
        const text = bytes.toString("utf8");
        for (const w of watch) if (text.includes(w)) seen[w].add(pid);
      } else if (bytes.includes(marker)) credDirs.add(pid);
    }
  }
  sweeps++;
}
parentPort.postMessage({
  sweeps,
  hits: [...hits.values()],
  seen: Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v.size])),
  credentialsDirectoryEnvironments: credDirs.size,
});
`;

export interface ProcSampler {
  /** Stops sampling and returns what was found. */
  stop(): Promise<SampleReport>;
}

/** Starts sampling for `needles`; `watch` words are counted in command lines to prove coverage. */
export async function startProcSampler(
  needles: readonly string[],
  watch: readonly string[] = [],
): Promise<ProcSampler> {
  const stopFlag = new SharedArrayBuffer(4);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { needles: [...needles], watch: [...watch], stop: stopFlag },
  });
  const report = new Promise<SampleReport>((resolve, reject) => {
    worker.once("message", (m: SampleReport) => resolve(m));
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`proc sampler exited ${code}`));
    });
  });
  await new Promise<void>((resolve) => worker.once("online", () => resolve()));
  return {
    async stop() {
      Atomics.store(new Int32Array(stopFlag), 0, 1);
      const r = await report;
      await worker.terminate();
      return r;
    },
  };
}
