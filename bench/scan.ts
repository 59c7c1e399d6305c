/**
 * Scanner benchmarks (issue 5), printed as Markdown for docs/benchmarks.md:
 *
 * 1. Tree throughput: `keyhold scan` against `secretlint` (with its recommended preset) over the
 *    same generated tree, both as whole processes, measured alternately in the same run.
 * 2. History: `keyhold scan --history` over a generated repository with 10,000 commits, against
 *    git's own read of the same blobs (`rev-list --objects --all | cat-file --batch`), the floor
 *    any history scanner pays.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openFingerprintIndex, Scanner } from "../src/scan/index.js";
import { Secret } from "../src/secret/index.js";
import { makeScratch } from "../test/support/scratch.js";
import { decoyText, PLANTABLE_RULES, plantedLine } from "../test/scan/support/corpus.js";
import { buildRepository, GIT_ENV, type GeneratedCommit } from "../test/scan/support/repo.js";
import { SeededRandom } from "../test/scan/support/synthetic.js";
import {
  formatMs,
  loadNow,
  median,
  nodeScript,
  printComparison,
  printEnvironment,
  printHeader,
} from "./measure.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const keyhold = join(root, "bin", "keyhold.js");
// secretlint is started as Node.js on its own script, as keyhold is: never through npm's bin link.
const secretlint = nodeScript(join(root, "node_modules", ".bin", "secretlint"));

const TREE_FILES = Number(process.env.KEYHOLD_BENCH_FILES ?? 1500);
const HISTORY_COMMITS = Number(process.env.KEYHOLD_BENCH_COMMITS ?? 10_000);
const RUNS = Number(process.env.KEYHOLD_BENCH_RUNS ?? 5);

/** Runs a process to completion; exit codes other than `ok` are failures. Returns wall ms. */
function timed(
  argv: string[],
  ok: number[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; shell?: boolean } = {},
): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "ignore", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status === null || !ok.includes(r.status)) {
    throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr?.toString().slice(0, 500)}`);
  }
  return ms;
}

function paired(a: () => number, b: () => number, runs: number): [number, number] {
  a();
  b();
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < runs; i++) {
    ta.push(a());
    tb.push(b());
  }
  return [median(ta), median(tb)];
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

async function main(): Promise<void> {
  const scratch = makeScratch("keyhold-bench-scan-");
  try {
    const random = new SeededRandom("keyhold-bench-scan");
    // --- the tree -------------------------------------------------------------------------
    const tree = join(scratch.root, "tree");
    let bytes = 0;
    for (let i = 0; i < TREE_FILES; i++) {
      const dir = join(tree, `pkg-${i % 40}`);
      mkdirSync(dir, { recursive: true });
      let text = decoyText(random, 120 + random.below(120));
      if (i % 25 === 0) text += `${plantedLine(random.pick(PLANTABLE_RULES), random)}\n`;
      writeFileSync(join(dir, `file-${i}.${random.pick(["ts", "py", "yaml", "json", "sh", "conf"])}`), text);
      bytes += Buffer.byteLength(text);
    }
    const rc = join(scratch.root, "secretlintrc.json");
    writeFileSync(rc, JSON.stringify({ rules: [{ id: "@secretlint/secretlint-rule-preset-recommend" }] }));
    // Stored values to look for, recorded as keyhold set does (known-value search on).
    const index = await openFingerprintIndex(scratch.state, { env: scratch.env });
    for (let i = 0; i < 10; i++) {
      await index.record(`bench_key_${i}`, Secret.fromString(random.chars("b64", 30 + i)), "credstore");
    }

    const env = { ...process.env, ...scratch.env };
    const ours = () => timed([process.execPath, keyhold, "scan", "--json", tree], [0, 3], { env });
    const oursPatternsOnly = () =>
      timed([process.execPath, keyhold, "scan", "--json", "--no-known-values", tree], [0, 3], { env });
    const theirs = () =>
      timed([...secretlint, "--secretlintrc", rc, "--format", "json", `${tree}/**/*`], [0, 1], {
        cwd: root,
        env,
      });

    console.log(
      `\n### Scanner: tree throughput (${TREE_FILES} files, ${mib(bytes)}, ${new Date().toISOString().slice(0, 10)})`,
    );
    printEnvironment(env);
    printHeader("keyhold scan vs secretlint (same tree, whole processes, alternating)");
    const [a, b] = paired(ours, theirs, RUNS);
    printComparison({
      what: `scan ${mib(bytes)} tree, known-value search on (10 stored values)`,
      how: "whole processes",
      ours: "keyhold scan",
      oursMs: a,
      peer: "secretlint (preset-recommend)",
      peerMs: b,
      goal: "≥ 10× faster (ratio ≤ 0.10)",
      met: a / b <= 0.1,
    });
    const [c, d] = paired(oursPatternsOnly, theirs, RUNS);
    printComparison({
      what: `scan ${mib(bytes)} tree, patterns only`,
      how: "whole processes",
      ours: "keyhold scan --no-known-values",
      oursMs: c,
      peer: "secretlint (preset-recommend)",
      peerMs: d,
      goal: "≥ 10× faster (ratio ≤ 0.10)",
      met: c / d <= 0.1,
    });
    console.log(
      `\nThroughput (whole process, incl. start-up): keyhold ${(bytes / 1048576 / (a / 1000)).toFixed(1)} MiB/s, secretlint ${(bytes / 1048576 / (b / 1000)).toFixed(1)} MiB/s.`,
    );
    // In-process engine throughput, without process start-up or file reads.
    const known = await index.loadKnownValues();
    const texts: Buffer[] = [];
    const r2 = new SeededRandom("keyhold-bench-scan-engine");
    for (let i = 0; i < 200; i++) texts.push(Buffer.from(decoyText(r2, 200)));
    const engineBytes = texts.reduce((n, t) => n + t.length, 0);
    const engineTimes: number[] = [];
    for (let run = 0; run < RUNS + 1; run++) {
      const scanner = new Scanner(known ? { known } : {});
      const t = process.hrtime.bigint();
      for (const [i, text] of texts.entries()) scanner.scan(`f${i}.ts`, text);
      engineTimes.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    known?.dispose();
    const engineMs = median(engineTimes.slice(1));
    console.log(
      `Engine alone (in-process, ${mib(engineBytes)}): ${formatMs(engineMs)} median, ${(engineBytes / 1048576 / (engineMs / 1000)).toFixed(1)} MiB/s.`,
    );

    // --- history --------------------------------------------------------------------------
    const repo = join(scratch.root, "history");
    mkdirSync(repo);
    const commits: GeneratedCommit[] = [];
    const files = 200;
    const first: Record<string, string> = {};
    for (let f = 0; f < files; f++) first[`src/m${f}.ts`] = decoyText(random, 60);
    commits.push({ message: "initial", files: first });
    for (let i = 1; i < HISTORY_COMMITS; i++) {
      const change: Record<string, string | null> = {};
      change[`src/m${random.below(files)}.ts`] = decoyText(random, 40 + random.below(40));
      if (i % 500 === 0)
        change[`leaks/l${i}.conf`] = `${plantedLine(random.pick(PLANTABLE_RULES), random)}\n`;
      if (i % 500 === 250) change[`leaks/l${i - 250}.conf`] = null;
      commits.push({ message: `change ${i}`, files: change });
    }
    const built = process.hrtime.bigint();
    buildRepository(repo, commits);
    const buildMs = Number(process.hrtime.bigint() - built) / 1e6;
    const blobList = spawnSync("git", ["rev-list", "--objects", "--all", "--filter=object:type=blob"], {
      cwd: repo,
      env: GIT_ENV,
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
    }).stdout;
    const blobCount = blobList.split("\n").filter((l) => l.includes(" ")).length;
    const ourHistory = () =>
      timed([process.execPath, keyhold, "scan", "--history", "--json", repo], [3], { env, cwd: repo });
    const gitRead = () =>
      timed(["sh", "-c", "git rev-list --objects --all | git cat-file --batch > /dev/null"], [0], {
        cwd: repo,
        env: GIT_ENV,
      });
    const [h, g] = paired(ourHistory, gitRead, Math.max(3, Math.floor(RUNS / 2)));
    console.log(
      `\n### Scanner: history of a generated repository (${HISTORY_COMMITS} commits, ${blobCount} distinct blobs; built with git fast-import in ${formatMs(buildMs)})`,
    );
    // No goal is set for history scans: a line for scale, not a row of the goals table.
    console.log(
      `\nkeyhold scan --history (whole process): ${formatMs(h)}; \`git rev-list --objects --all | git cat-file --batch\` reading the same blobs: ${formatMs(g)} (${(h / g).toFixed(2)}×; no goal set, each blob read once).`,
    );
    console.log(
      `\nHistory scan rate: ${(blobCount / (h / 1000)).toFixed(0)} blobs/s. Load average after: ${loadNow()}.`,
    );
  } finally {
    rmSync(scratch.root, { recursive: true, force: true });
  }
}

await main();
