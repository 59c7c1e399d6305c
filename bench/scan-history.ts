/**
 * History scanner benchmarks, printed as Markdown for docs/scan.md section 5:
 *
 * 1. A range scan (`keyhold scan --range HEAD~20..HEAD`) of the last 20 commits of a generated
 *    10,000-commit repository, as a whole process, against git's own read of the same objects
 *    (`rev-list --objects HEAD~20..HEAD | cat-file --batch`). Goal: under 2 s.
 * 2. Grouping: one example value in every version of a README (plus a second file that carries
 *    it in some versions); the leaks' places after grouping against the distinct (value, path)
 *    pairs. Goal: places ≤ pairs.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeScratch } from "../test/support/scratch.js";
import { decoyText } from "../test/scan/support/corpus.js";
import { buildRepository, GIT_ENV, type GeneratedCommit } from "../test/scan/support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "../test/scan/support/synthetic.js";
import { formatMs, median, printComparison, printHeader } from "./measure.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const keyhold = join(root, "bin", "keyhold.js");
const COMMITS = Number(process.env.KEYHOLD_BENCH_COMMITS ?? 10_000);
const README_VERSIONS = Number(process.env.KEYHOLD_BENCH_README_VERSIONS ?? 1_000);
const RUNS = Number(process.env.KEYHOLD_BENCH_RUNS ?? 5);

/**
 * Runs a command to completion; returns its wall time and the CPU time (user + system) it and
 * its children used, which bash's `times` reports: on a shared, loaded machine the wall time
 * mostly measures the queue for a core.
 */
function run(
  argv: string[],
  ok: number[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): { ms: number; cpuMs: number; stdout: string } {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const t = process.hrtime.bigint();
  const r = spawnSync("bash", ["-c", `${quoted} 3>&1 >"$KEYHOLD_BENCH_OUT"; s=$?; times >&2; exit $s`], {
    cwd,
    env: { ...env, KEYHOLD_BENCH_OUT: join(cwd, "..", "bench-out") },
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status === null || !ok.includes(r.status))
    throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr?.slice(0, 500)}`);
  // `times`: the shell's user and system time, then its children's: "0m0.446s 0m0.259s".
  const children = r.stderr.trim().split("\n").at(-1) ?? "";
  const cpuMs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce(
    (sum, m) => sum + (Number(m[1]) * 60 + Number(m[2])) * 1000,
    0,
  );
  return { ms, cpuMs, stdout: readFileSync(join(cwd, "..", "bench-out"), "utf8") };
}

async function main(): Promise<void> {
  const scratch = makeScratch("keyhold-bench-scan-history-");
  const env = { ...GIT_ENV, ...scratch.env };
  const random = new SeededRandom("keyhold-bench-scan-history");
  try {
    // --- range of the last 20 commits ----------------------------------------------------
    const repo = join(scratch.root, "range");
    mkdirSync(repo);
    const files = 200;
    const first: Record<string, string> = {};
    for (let f = 0; f < files; f++) first[`src/m${f}.ts`] = decoyText(random, 60);
    const commits: GeneratedCommit[] = [{ message: "initial", files: first }];
    const key = expandTemplate(KEY_TEMPLATES["github-token"]!, random);
    for (let i = 1; i < COMMITS; i++) {
      const change: Record<string, string | null> = {
        [`src/m${random.below(files)}.ts`]: decoyText(random, 40 + random.below(40)),
      };
      if (i === COMMITS - 10) change["deploy/prod.env"] = `TOKEN=${key}\n`;
      commits.push({ message: `change ${i}`, files: change });
    }
    const built = process.hrtime.bigint();
    buildRepository(repo, commits);
    const buildMs = Number(process.hrtime.bigint() - built) / 1e6;
    const ours: number[] = [];
    const oursCpu: number[] = [];
    const git: number[] = [];
    let findings = 0;
    for (let i = 0; i <= RUNS; i++) {
      const r = run(
        [
          process.execPath,
          keyhold,
          "scan",
          "--range",
          "HEAD~20..HEAD",
          "--no-known-values",
          "--no-progress",
          "--json",
        ],
        [3],
        repo,
        env,
      );
      const g = run(
        ["sh", "-c", "git rev-list --objects HEAD~20..HEAD | git cat-file --batch > /dev/null"],
        [0],
        repo,
        GIT_ENV,
      );
      if (i === 0) {
        findings = JSON.parse(r.stdout).findings.length;
        continue; // warm-up
      }
      ours.push(r.ms);
      oursCpu.push(r.cpuMs);
      git.push(g.ms);
    }
    const rangeMs = median(ours);
    console.log(
      `\n### Scanner: range scan of the last 20 commits of a generated repository (${COMMITS} commits; built with git fast-import in ${formatMs(buildMs)})`,
    );
    printHeader("keyhold scan --range HEAD~20..HEAD vs reading the same objects with git alone");
    printComparison({
      what: `range scan, last 20 of ${COMMITS} commits (${findings} finding)`,
      how: "whole processes",
      ours: "keyhold scan --range",
      oursMs: rangeMs,
      peer: "`git rev-list --objects HEAD~20..HEAD \\| git cat-file --batch`",
      peerMs: median(git),
      goal: "< 2 s",
      met: rangeMs < 2000,
    });
    const load = (await import("node:os")).loadavg()[0]!.toFixed(1);
    console.log(
      `\nCPU time of the range scan (user + system, keyhold and its git processes): ${formatMs(median(oursCpu))}; load average ${load} during the run.`,
    );

    // --- grouping --------------------------------------------------------------------------
    const docs = join(scratch.root, "readme");
    mkdirSync(docs);
    const example = expandTemplate(KEY_TEMPLATES["npm-token"]!, random);
    const versions: GeneratedCommit[] = [];
    for (let i = 0; i < README_VERSIONS; i++) {
      const files: Record<string, string> = {
        "README.md": `# project\n\nrevision ${i}\n\n${decoyText(random, 5)}\nexample: npm token ${example}\n`,
      };
      if (i % 100 === 0) files["docs/setup.md"] = `step ${i}\nnpm token ${example}\n`;
      versions.push({ message: `docs ${i}`, files });
    }
    buildRepository(docs, versions);
    const h = run(
      [process.execPath, keyhold, "scan", "--history", "--no-known-values", "--no-progress", "--json"],
      [3],
      docs,
      env,
    );
    const json = JSON.parse(h.stdout) as { findings: { path: string }[]; leaks: { places: unknown[] }[] };
    const pairs = new Set(json.findings.map((f) => f.path)).size;
    const places = json.leaks.reduce((n, l) => n + l.places.length, 0);
    console.log(
      `\n### Scanner: grouping history findings (one example value in all ${README_VERSIONS} versions of a README)\n`,
    );
    console.log(
      "| findings (one per blob) | leaks | places after grouping | distinct (value, path) pairs | goal | result |",
    );
    console.log("| --- | --- | --- | --- | --- | --- |");
    console.log(
      `| ${json.findings.length} | ${json.leaks.length} | ${places} | ${pairs} | places ≤ pairs | ${places <= pairs ? "met" : "not met"} |`,
    );
    console.log(`\nHistory scan of it: ${formatMs(h.ms)} (one run, grouping included).`);
  } finally {
    rmSync(scratch.root, { recursive: true, force: true });
  }
}

await main();
