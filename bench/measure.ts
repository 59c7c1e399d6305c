import { spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, readSync, realpathSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Runs `fn` `warmup` times, then `runs` times, and returns the median in milliseconds. */
export async function medianMs(
  fn: () => unknown | Promise<unknown>,
  runs: number,
  warmup = 3,
): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(times);
}

/**
 * Medians of two contenders measured alternately (a, b, a, b, …), so a change in machine load
 * during the run weighs on both alike instead of on whichever ran second.
 */
export async function pairedMedianMs(
  a: () => unknown | Promise<unknown>,
  b: () => unknown | Promise<unknown>,
  runs: number,
  warmup = 3,
): Promise<[number, number]> {
  const [ma, mb] = await alternatingMedianMs([a, b], runs, warmup);
  return [ma as number, mb as number];
}

/** pairedMedianMs for any number of contenders: a, b, c, a, b, c, … */
export async function alternatingMedianMs(
  contenders: readonly (() => unknown | Promise<unknown>)[],
  runs: number,
  warmup = 3,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) for (const fn of contenders) await fn();
  const times = contenders.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [j, fn] of contenders.entries()) {
      const t = process.hrtime.bigint();
      await fn();
      times[j]?.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  return times.map(median);
}

/**
 * The real program behind an interpreter's name, for a fair peer: the first of `candidates` that
 * exists, resolved through its links, and refused unless it is an ELF binary. A version manager's
 * shell shim on PATH (pyenv's `python3`) adds its own start-up to every run, so PATH is never used.
 */
export function realInterpreter(candidates: readonly string[]): string {
  for (const candidate of candidates) {
    let path: string;
    try {
      path = realpathSync(candidate);
    } catch {
      continue;
    }
    const head = Buffer.alloc(4);
    const fd = openSync(path, "r");
    try {
      readSync(fd, head, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
    if (head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return path;
    throw new Error(`${candidate} resolves to ${path}, which is not an ELF binary (a shell shim?)`);
  }
  throw new Error(`none of ${candidates.join(", ")} exists`);
}

/**
 * How to start a package's command as a fair peer: Node.js on the script itself, never the
 * package manager's bin link through `/usr/bin/env node` nor a shell-script shim (npm's .cmd/.sh
 * wrappers): [process.execPath, the resolved script]. Refuses anything that is not a Node.js script.
 */
export function nodeScript(bin: string): string[] {
  const path = realpathSync(bin);
  const head = readFileSync(path, "utf8").slice(0, 200);
  const shebang = head.startsWith("#!") ? (head.split("\n")[0] as string) : "";
  if (shebang !== "" && !/\bnode\b/.test(shebang))
    throw new Error(`${bin} resolves to ${path}, which is not a Node.js script (${shebang})`);
  if (!/\.(c|m)?js$/.test(path)) throw new Error(`${bin} resolves to ${path}, not a JavaScript file`);
  return [process.execPath, path];
}

/** Names of variables that change every Node.js start (each adds work before any script runs). */
const START_UP_VARIABLES = [
  "NODE_EXTRA_CA_CERTS",
  "NODE_OPTIONS",
  "NODE_COMPILE_CACHE",
  "UV_THREADPOOL_SIZE",
];

/**
 * Prints what changes start-up times, for the table that follows: Node.js version, CPUs, load
 * average now, and which start-up variables are set in the bench's environment and in the one
 * the contenders get (`contenders`, or a sentence saying where it comes from).
 */
export function printEnvironment(contenders: NodeJS.ProcessEnv | string): void {
  const set = (env: NodeJS.ProcessEnv) =>
    START_UP_VARIABLES.filter((v) => env[v] !== undefined).join(", ") || "none";
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  console.log(
    `\nEnvironment: Node.js ${process.version}, ${availableParallelism()} CPUs (${cpuModel()}), load average ${load} (1, 5, 15 min); start-up variables set in the bench's environment: ${set(process.env)}; in the contenders': ${typeof contenders === "string" ? contenders : set(contenders)}.`,
  );
}

/** Load average now, for a line after a table: the machine may have changed during it. */
export function loadNow(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

function cpuModel(): string {
  try {
    return /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? "unknown cpu";
  } catch {
    return "unknown cpu";
  }
}

/** Peak resident memory (KiB) of a whole process, as GNU time reports it (the largest of several runs). */
export function peakRssKiB(argv: string[], env: NodeJS.ProcessEnv, runs = 5): number | undefined {
  let peak: number | undefined;
  for (let i = 0; i < runs; i++) {
    const r = spawnSync("/usr/bin/time", ["-f", "%M", ...argv], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
      encoding: "utf8",
    });
    const kib = Number(r.stderr.trim().split("\n").pop());
    if (r.status !== 0 || !Number.isFinite(kib)) return undefined;
    peak = Math.max(peak ?? 0, kib);
  }
  return peak;
}

/** Runs a whole process to completion; throws if it fails. */
export function runProcess(argv: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(argv[0] as string, argv.slice(1), { env, stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
}

/** Median wall time of a whole process, started the same way for every contender. */
export async function medianProcessMs(
  argv: string[],
  runs: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  return medianMs(() => runProcess(argv, env), runs);
}

export interface Comparison {
  what: string;
  ours: string;
  oursMs: number;
  peer: string;
  peerMs: number;
  /** How both sides were measured: the same way each, said in the table. */
  how: "whole processes" | "in-process" | "in-process vs a process it starts";
  goal: string;
  /** Undefined for a row that is reported, with no goal of its own. */
  met: boolean | undefined;
}

export function formatMs(ms: number): string {
  return ms < 0.01
    ? `${(ms * 1e6).toFixed(0)} ns`
    : ms < 1
      ? `${(ms * 1000).toFixed(1)} µs`
      : `${ms.toFixed(2)} ms`;
}

/** Prints one comparison as a Markdown table row (ratio = ours / peer; below 1 means faster). */
export function printComparison(c: Comparison): void {
  const ratio = c.oursMs / c.peerMs;
  console.log(
    `| ${c.what} | ${c.how} | ${c.ours}: ${formatMs(c.oursMs)} | ${c.peer}: ${formatMs(c.peerMs)} | ${ratio.toFixed(2)}× | ${c.goal} | ${c.met === undefined ? "—" : c.met ? "met" : "not met"} |`,
  );
}

export function printHeader(title: string): void {
  console.log(`\n### ${title}\n`);
  console.log("| measurement | measured as | keyhold (median) | peer (median) | ratio | goal | result |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
}
