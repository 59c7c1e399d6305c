import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { buildRepository, GIT_ENV, git } from "./support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

// docs/ci.md's recipes, run as written: each block is taken from the document, its `run:` or
// `script:` lines (or the shell script) run in a generated repository with the CI variables
// they use set. A recipe that drifts from what keyhold accepts fails here.

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const DOC = readFileSync(join(ROOT, "docs", "ci.md"), "utf8");
const ZERO = "0".repeat(40);

/** The fenced block after `<!-- ci-recipe: NAME -->`. */
function recipe(name: string): string {
  const at = DOC.indexOf(`<!-- ci-recipe: ${name} -->`);
  assert.ok(at >= 0, `docs/ci.md has no ${name} recipe`);
  const m = /```[a-z]*\n([\s\S]*?)\n```/.exec(DOC.slice(at));
  assert.ok(m, `the ${name} recipe has no code block`);
  return m[1]!;
}

/** The lines indented deeper than `line` that follow it (a YAML block). */
function blockAfter(lines: string[], index: number): string[] {
  const indent = lines[index]!.search(/\S/);
  const out: string[] = [];
  for (let i = index + 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.trim() !== "" && l.search(/\S/) <= indent) break;
    out.push(l);
  }
  const strip = Math.min(...out.filter((l) => l.trim() !== "").map((l) => l.search(/\S/)));
  return out.map((l) => l.slice(strip));
}

/** GitHub Actions: the step that runs keyhold, its `run: |` script and its `env:` (expressions). */
function githubStep(yaml: string): { script: string; env: Record<string, string> } {
  const lines = yaml.split("\n");
  const run = lines.findIndex(
    (l, i) => /^\s+run: \|$/.test(l) && blockAfter(lines, i).join("\n").includes("keyhold scan"),
  );
  assert.ok(run >= 0, "no run: | step with keyhold scan");
  const envAt = lines.slice(0, run).findLastIndex((l) => /^\s+env:$/.test(l));
  const env: Record<string, string> = {};
  for (const l of envAt < 0 ? [] : blockAfter(lines, envAt)) {
    const m = /^(\w+): (.*)$/.exec(l);
    if (m) env[m[1]!] = m[2]!;
  }
  return { script: blockAfter(lines, run).join("\n"), env };
}

/** Evaluates `${{ a || b }}` against a context of dotted names (missing names are empty). */
function expression(value: string, context: Record<string, string>): string {
  const m = /^\$\{\{ (.*) \}\}$/.exec(value);
  if (!m) return value;
  for (const name of m[1]!.split("||").map((s) => s.trim())) if (context[name]) return context[name]!;
  return "";
}

/** GitLab CI: the `script:` list items, in order. */
function gitlabScript(yaml: string): string[] {
  const lines = yaml.split("\n");
  const at = lines.findIndex((l) => /^\s+script:$/.test(l));
  assert.ok(at >= 0, "no script:");
  return blockAfter(lines, at).map((l) => l.replace(/^- /, ""));
}

describe("docs/ci.md recipes, run against a generated repository", () => {
  let scratch: Scratch;
  let repo: string;
  let env: NodeJS.ProcessEnv;
  let commits: string[];
  const random = new SeededRandom(randomBytes(16).toString("hex"));
  const key = expandTemplate(KEY_TEMPLATES["github-token"]!, random);

  before(() => {
    scratch = makeScratch("keyhold-scan-ci-");
    const bin = join(scratch.root, "bin");
    mkdirSync(bin);
    // keyhold on PATH, as the recipes expect it.
    writeFileSync(
      join(bin, "keyhold"),
      `#!/bin/sh\nexec '${process.execPath}' '${join(ROOT, "bin", "keyhold.js")}' "$@"\n`,
      { mode: 0o755 },
    );
    env = { ...GIT_ENV, ...scratch.env, PATH: `${bin}:${GIT_ENV.PATH}` };
    repo = join(scratch.root, "repo");
    mkdirSync(repo);
    commits = buildRepository(repo, [
      { message: "start", files: { "README.md": "# app\n" } },
      { message: "feature", files: { "src/app.js": "console.log(1)\n" } },
      { message: "deploy config", files: { "deploy/prod.env": `TOKEN=${key}\n` } },
      { message: "more", files: { "src/app.js": "console.log(2)\n" } },
    ]);
  });
  after(() => scratch?.cleanup());

  function run(command: string, args: string[], vars: Record<string, string>) {
    rmSync(join(repo, "keyhold.sarif"), { force: true });
    rmSync(join(repo, "gl-secret-detection-report.json"), { force: true });
    const r = spawnSync(command, args, {
      cwd: repo,
      env: { ...env, ...vars },
      encoding: "utf8",
      timeout: 120_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it("GitHub Actions: the scan step writes SARIF for the pushed range and fails the job on a finding", () => {
    const step = githubStep(recipe("github"));
    assert.deepEqual(Object.keys(step.env).sort(), ["BASE", "HEAD"]);
    const job = (context: Record<string, string>) => {
      const vars = Object.fromEntries(Object.entries(step.env).map(([k, v]) => [k, expression(v, context)]));
      // GitHub runs a run: block as `bash --noprofile --norc -eo pipefail {0}`.
      const r = run("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.script], vars);
      return { ...r, sarif: JSON.parse(readFileSync(join(repo, "keyhold.sarif"), "utf8")) };
    };
    const leak = job({ "github.event.before": commits[1]!, "github.sha": commits[3]! });
    assert.equal(leak.code, 3, leak.stderr);
    const results = leak.sarif.runs[0].results;
    assert.deepEqual(
      results.map(
        (r: { locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }) =>
          r.locations[0]!.physicalLocation.artifactLocation.uri,
      ),
      ["deploy/prod.env"],
    );
    assert.ok(results[0].correlationGuid);
    assert.ok(!JSON.stringify(leak.sarif).includes(key));
    const pr = job({
      "github.event.pull_request.base.sha": commits[2]!,
      "github.event.pull_request.head.sha": commits[3]!,
      "github.event.before": ZERO,
      "github.sha": commits[3]!,
    });
    assert.equal(pr.code, 0, pr.stderr);
    assert.equal(pr.sarif.runs[0].results.length, 0);
    const first = job({ "github.event.before": ZERO, "github.sha": commits[3]! });
    assert.equal(first.code, 3, "a new branch falls back to --history");
  });

  it("GitLab CI: the script writes gl-secret-detection-report.json for the pushed range", () => {
    const script = gitlabScript(recipe("gitlab")).join("\n");
    const job = (vars: Record<string, string>) => {
      const r = run("sh", ["-e", "-c", script], vars);
      return { ...r, text: readFileSync(join(repo, "gl-secret-detection-report.json"), "utf8") };
    };
    const push = job({ CI_COMMIT_SHA: commits[3]!, CI_COMMIT_BEFORE_SHA: commits[1]! });
    assert.equal(push.code, 3, push.stderr);
    assert.ok(!push.text.includes(key));
    const report = JSON.parse(push.text);
    assert.match(report.version, /^15\.0\.\d+$/);
    assert.equal(report.scan.type, "secret_detection");
    assert.equal(report.scan.status, "success");
    assert.match(report.scan.start_time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    for (const part of ["analyzer", "scanner"]) {
      assert.equal(report.scan[part].id, "keyhold");
      assert.equal(typeof report.scan[part].vendor.name, "string");
      assert.equal(typeof report.scan[part].version, "string");
    }
    assert.equal(report.vulnerabilities.length, 1);
    const [v] = report.vulnerabilities;
    assert.equal(v.location.file, "deploy/prod.env");
    assert.equal(v.location.commit.sha, commits[2]);
    assert.equal(v.location.start_line, 1);
    assert.equal(v.severity, "Critical");
    assert.ok(
      v.identifiers.length >= 1 &&
        v.identifiers.every((i: Record<string, string>) => i.type && i.name && i.value),
    );
    assert.equal(v.raw_source_code_extract, undefined);
    assert.match(v.description, /ghp_…\(40\)/);

    const mr = job({
      CI_COMMIT_SHA: commits[3]!,
      CI_COMMIT_BEFORE_SHA: ZERO,
      CI_MERGE_REQUEST_DIFF_BASE_SHA: commits[2]!,
    });
    assert.equal(mr.code, 0, mr.stderr);
    assert.equal(JSON.parse(mr.text).vulnerabilities.length, 0);
  });

  it("shell: the script scans BASE..HEAD and exits 3 on findings, 0 when clean", () => {
    const script = join(scratch.root, "keyhold-scan-range.sh");
    writeFileSync(script, `${recipe("shell")}\n`, { mode: 0o755 });
    const leak = run("sh", [script, commits[1]!, commits[3]!], {});
    assert.equal(leak.code, 3, leak.stderr);
    assert.match(leak.stdout, /^deploy\/prod\.env:1:7: github-token: /m);
    assert.ok(!leak.stdout.includes(key) && !leak.stderr.includes(key));
    const clean = run("sh", [script, commits[2]!], {});
    assert.equal(clean.code, 0, clean.stdout);
    const usage = run("sh", [script], {});
    assert.notEqual(usage.code, 0);
    const hostile = run("sh", [script, "--output=/tmp/x"], {});
    assert.equal(hostile.code, 2);
    assert.match(hostile.stderr, /\[USAGE\]/);
    assert.equal(git(repo, ["status", "--porcelain"]), "");
  });
});
