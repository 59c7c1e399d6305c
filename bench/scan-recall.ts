/**
 * Scanner quality, kept apart from the rules: recall and false positives, printed as Markdown
 * for docs/scan.md (section 10.1). `npm run bench -- scan-recall` runs it alone.
 *
 * Samples come from every bench/scan-corpus/*.json (arrays of { family, source, template } in the
 * `{{kind:n}}` template language of test/scan/support/synthetic.ts); keys are generated here, at
 * run time, never committed. Families named `generic-…` have no provider rule: they count for
 * the language contexts only.
 *
 * (a) each sample alone on a line: recall of the provider rules, per family;
 * (b) each sample in each language context (test/scan/support/contexts.ts): recall of any rule;
 * (c) negatives (fillers, references, names of things about a secret, documented example keys):
 *     the share that gives any finding;
 * (d) findings per 10 MB of the .js/.ts files under node_modules, a large tree taken as clean.
 */
import { type Dirent, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { INCOMPLETE_RULE } from "../src/scan/detect.js";
import { type Finding, Scanner } from "../src/scan/index.js";
import { LANGUAGE_CONTEXTS, REFERENCES } from "../test/scan/support/contexts.js";
import { DOCUMENTED_EXAMPLES } from "../test/scan/support/documented-examples.js";
import { expandTemplate, SeededRandom } from "../test/scan/support/synthetic.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const corpusDir = join(root, "bench", "scan-corpus");
const EXPANSIONS = Number(process.env.KEYHOLD_BENCH_EXPANSIONS ?? 5);
const VERBOSE = process.env.KEYHOLD_BENCH_VERBOSE === "1";

const GOALS = { providerRecall: 0.9, contextRecall: 0.95, negativeRate: 0.05, per10MB: 1 };
// Rules that read any value; a provider family counts as found in (a) only by another rule.
const GENERIC_RULES = new Set(["generic-secret-assignment", "dotenv-tracked", "url-credentials"]);

interface Sample {
  family: string;
  source: string;
  template: string;
  file: string;
}

function loadSamples(): Sample[] {
  const samples: Sample[] = [];
  for (const file of readdirSync(corpusDir)
    .filter((f) => f.endsWith(".json"))
    .sort()) {
    const parsed = JSON.parse(readFileSync(join(corpusDir, file), "utf8")) as unknown;
    if (!Array.isArray(parsed)) throw new Error(`${file}: not an array`);
    for (const [i, s] of parsed.entries()) {
      const { family, source, template } = (s ?? {}) as Record<string, unknown>;
      if (typeof family !== "string" || typeof template !== "string")
        throw new Error(`${file}[${i}]: needs family and template strings`);
      samples.push({ family, source: typeof source === "string" ? source : "", template, file });
    }
  }
  return samples;
}

function findings(path: string, text: string): Finding[] {
  const scanner = new Scanner();
  scanner.scan(path, Buffer.from(text, "utf8"));
  return scanner.findings.filter((f) => f.rule !== INCOMPLETE_RULE);
}

const pct = (n: number, d: number) => (d === 0 ? "–" : `${((100 * n) / d).toFixed(1)} %`);
const met = (ok: boolean) => (ok ? "met" : "**not met**");

function row(cells: (string | number)[]): void {
  console.log(`| ${cells.join(" | ")} |`);
}

/** (a) Provider-rule recall per family. */
function providerRecall(
  samples: Sample[],
  random: SeededRandom,
): { found: number; total: number; worst: number } {
  const byFamily = new Map<string, { found: number; total: number; missed: string[] }>();
  for (const s of samples) {
    if (s.family.startsWith("generic-")) continue;
    const f = byFamily.get(s.family) ?? { found: 0, total: 0, missed: [] };
    byFamily.set(s.family, f);
    for (let i = 0; i < EXPANSIONS; i++) {
      const key = expandTemplate(s.template, random);
      f.total++;
      if (findings("notes.txt", `${key}\n`).some((x) => !GENERIC_RULES.has(x.rule))) f.found++;
      else if (f.missed.length < 3) f.missed.push(s.template);
    }
  }
  console.log("\n#### (a) Provider rules: each sample alone on a line\n");
  row(["family", "samples", "found", "recall"]);
  row(["---", "---", "---", "---"]);
  let found = 0;
  let total = 0;
  let worst = 1;
  for (const [family, f] of [...byFamily].sort()) {
    row([family, f.total, f.found, pct(f.found, f.total)]);
    if (VERBOSE && f.missed.length > 0)
      console.error(`missed ${family}: ${[...new Set(f.missed)].join(" ")}`);
    found += f.found;
    total += f.total;
    worst = Math.min(worst, f.found / f.total);
  }
  return { found, total, worst };
}

/** (b) Any-rule recall per language context. */
function contextRecall(samples: Sample[], random: SeededRandom): { worst: number; worstId: string } {
  console.log("\n#### (b) Each sample in each language context (any rule)\n");
  row(["context", "samples", "found", "recall"]);
  row(["---", "---", "---", "---"]);
  let worst = 1;
  let worstId = "";
  for (const context of LANGUAGE_CONTEXTS) {
    let found = 0;
    let total = 0;
    const missed = new Set<string>();
    for (const s of samples) {
      for (let i = 0; i < EXPANSIONS; i++) {
        const key = expandTemplate(s.template, random);
        if (/[\s"'\\]/.test(key)) continue; // multi-line and quoted samples do not fit a line of code
        total++;
        if (findings(context.path, context.render(key)).length > 0) found++;
        else missed.add(s.family);
      }
    }
    row([context.id, total, found, pct(found, total)]);
    if (VERBOSE && missed.size > 0) console.error(`missed in ${context.id}: ${[...missed].join(" ")}`);
    if (total > 0 && found / total < worst) {
      worst = found / total;
      worstId = context.id;
    }
  }
  return { worst, worstId };
}

/** (c) Negatives: stand-ins that no rule should report. */
function negatives(samples: Sample[], random: SeededRandom): { flagged: number; total: number } {
  const lines = (values: string[]) =>
    values.flatMap((v) => [
      { path: "notes.txt", text: `${v}\n` },
      ...["python", "yaml", "shell-export", "json", "xml-element"].map((id) => {
        const c = LANGUAGE_CONTEXTS.find((x) => x.id === id)!;
        return { path: c.path, text: c.render(v) };
      }),
    ]);
  const fillers = [...new Set(samples.map((s) => s.template))].flatMap((t) =>
    ["x", "X", "0", "*"].map((ch) =>
      expandTemplate(
        t.replace(/\{\{([A-Za-z0-9]+):(\d+)\}\}/g, (_m, _k, n: string) => ch.repeat(Number(n))),
        random,
      ),
    ),
  );
  const references = LANGUAGE_CONTEXTS.filter((c) => c.references !== false).flatMap((c) =>
    REFERENCES.map((r) => ({ path: c.path, text: c.render(r) })),
  );
  const v = () => `${random.chars("alnum", 12)}${random.chars("digit", 4)}${random.chars("alnum", 16)}`;
  const names = [
    `LLM_SECRET_NAME = "NEXUS-GPT4-API-KEY"`,
    `SECRET_KEY_FILE = "/run/secrets/${v()}"`,
    `token_path: ${v()}`,
    `API_KEY_URL = "https://api.example.com/v2/${v()}"`,
    `csrf_token = "${random.chars("hex", 32)}"`,
    `csrfToken: "${v()}"`,
    `xsrf_token = '${random.chars("b64u", 43)}'`,
    `secret_name: ${v()}`,
    `apiKeyHeader = "X-Api-Key-${v()}"`,
    `TOKEN_ENV = "${v()}"`,
    `token_hash = "${random.chars("hex", 64)}"`,
    `secret_version = "${v()}"`,
    `api_key_id = "${v()}"`,
    `publicKey: "${random.chars("b64", 43)}="`,
    `token_type = "bearer"`,
    `password = getpass.getpass("Password for ${v()}: ")`,
  ].map((text) => ({ path: "config.py", text }));
  const groups: [string, { path: string; text: string }[]][] = [
    ["fillers in place of each sample's random parts", lines(fillers)],
    ["references to a secret kept elsewhere, in each context", references],
    ["names of things about a secret, with random values", names],
    ["providers' documented example keys", lines([...DOCUMENTED_EXAMPLES])],
  ];
  console.log("\n#### (c) Negatives (any finding is a false positive)\n");
  row(["negatives", "cases", "with a finding", "rate"]);
  row(["---", "---", "---", "---"]);
  let flagged = 0;
  let total = 0;
  for (const [what, cases] of groups) {
    let n = 0;
    for (const c of cases) {
      const found = findings(c.path, c.text);
      if (found.length > 0) {
        n++;
        if (VERBOSE)
          console.error(
            `negative flagged by ${found[0]!.rule}: ${c.path}: ${JSON.stringify(c.text).slice(0, 120)}`,
          );
      }
    }
    row([what, cases.length, n, pct(n, cases.length)]);
    flagged += n;
    total += cases.length;
  }
  return { flagged, total };
}

/** (d) Findings per 10 MB over the .js/.ts files below node_modules. */
function cleanTree(): { findings: number; bytes: number; files: number } {
  const scanner = new Scanner();
  let files = 0;
  const pending = [join(root, "node_modules")];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) pending.push(path);
      else if (
        e.isFile() &&
        /\.(?:[cm]?js|[cm]?ts)$/.test(e.name) &&
        statSync(path).size <= scanner.maxSize
      ) {
        files++;
        scanner.scan(relative(root, path), readFileSync(path));
      }
    }
  }
  const found = scanner.findings.filter((f) => f.rule !== INCOMPLETE_RULE);
  const byRule = new Map<string, number>();
  for (const f of found) byRule.set(f.rule, (byRule.get(f.rule) ?? 0) + 1);
  console.log(
    `\n#### (d) A large clean tree: the .js/.ts files under node_modules (${files} files, ${(scanner.stats.bytes / 1e6).toFixed(1)} MB)\n`,
  );
  row(["rule", "findings"]);
  row(["---", "---"]);
  for (const [rule, n] of [...byRule].sort((a, b) => b[1] - a[1])) row([rule, n]);
  if (byRule.size === 0) row(["(none)", 0]);
  if (VERBOSE)
    for (const f of found) console.error(`clean tree: ${f.rule} ${f.path}:${f.line}:${f.column} ${f.masked}`);
  return { findings: found.length, bytes: scanner.stats.bytes, files };
}

function main(): void {
  const samples = loadSamples();
  const random = new SeededRandom("keyhold-bench-scan-recall");
  const files = [...new Set(samples.map((s) => s.file))];
  console.log(
    `\n### Scanner: recall and false positives (${samples.length} samples from ${files.join(", ")}, ${EXPANSIONS} keys each, ${LANGUAGE_CONTEXTS.length} contexts, ${new Date().toISOString().slice(0, 10)})`,
  );
  const a = providerRecall(samples, random);
  const b = contextRecall(samples, random);
  const c = negatives(samples, random);
  const d = cleanTree();
  const per10MB = d.findings / (d.bytes / 1e7);
  console.log("\n#### Goals\n");
  row(["measure", "value", "goal", "result"]);
  row(["---", "---", "---", "---"]);
  row([
    "provider-rule recall, samples alone (lowest family)",
    `${pct(a.found, a.total)} (${pct(a.worst * a.total, a.total)})`,
    `≥ ${GOALS.providerRecall * 100} % per family`,
    met(a.total > 0 && a.worst >= GOALS.providerRecall),
  ]);
  row([
    "any-rule recall per language context (lowest)",
    `${(b.worst * 100).toFixed(1)} % (${b.worstId || "all"})`,
    `≥ ${GOALS.contextRecall * 100} % per context`,
    met(b.worst >= GOALS.contextRecall),
  ]);
  row([
    "negatives with a finding",
    pct(c.flagged, c.total),
    `≤ ${GOALS.negativeRate * 100} %`,
    met(c.flagged / c.total <= GOALS.negativeRate),
  ]);
  row([
    "findings per 10 MB of a clean tree",
    `${per10MB.toFixed(2)} (${d.findings} in ${(d.bytes / 1e6).toFixed(1)} MB)`,
    `≤ ${GOALS.per10MB}`,
    met(per10MB <= GOALS.per10MB),
  ]);
}

main();
