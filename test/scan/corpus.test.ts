import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type Finding,
  type KnownValueSet,
  openFingerprintIndex,
  type ScanResult,
  scanHistory,
  scanStaged,
  scanTree,
} from "../../src/scan/index.js";
import { Secret } from "../../src/secret/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { decoyText, PLANTABLE_RULES, plantedLine } from "./support/corpus.js";
import { buildRepository, type GeneratedCommit, git } from "./support/repo.js";
import { SeededRandom } from "./support/synthetic.js";

/*
 * A generated git repository with synthetic keys planted in the working tree, in staged
 * changes and deep in history (added, then deleted many commits later), as raw pattern keys
 * and as stored keyhold values in raw, base64, hex and URL-encoded forms, among decoys that
 * look like keys (hashes, UUIDs, integrity strings, data URIs, documentation examples). The
 * test measures precision and recall of each scan mode and prints them.
 */

interface Plant {
  path: string;
  line: number;
  what: string;
  /** History plants: index of the commit that added it. */
  addedAt?: number;
}

const random = new SeededRandom("keyhold-scan-corpus-v1");
const DECOY_FILES = 30;
const COMMITS = 80;

/** Writes `planted` at a random line among decoys; returns the 1-based line. */
function fileWithPlant(planted: string, r: SeededRandom): { text: string; line: number } {
  const before = decoyText(r, 5 + r.below(40));
  const afterText = decoyText(r, 5 + r.below(40));
  const line = before.split("\n").length;
  return { text: `${before}${planted}\n${afterText}`, line };
}

function knownValue(r: SeededRandom): string {
  // Standard base64 so URL-encoding changes it (+ / =).
  return Buffer.from(r.chars("alnum", 18 + r.below(12))).toString("base64") + r.chars("b64", 2);
}

type Form = "raw-conf" | "json" | "url-param" | "basic-auth" | "base64" | "hex" | "ts-string" | "userinfo";
const FORMS: Form[] = [
  "raw-conf",
  "json",
  "url-param",
  "basic-auth",
  "base64",
  "hex",
  "ts-string",
  "userinfo",
];

function knownLine(value: string, form: Form): string {
  switch (form) {
    case "raw-conf":
      return `SERVICE_KEY=${value}`;
    case "json":
      return `  "apiToken": "${value}",`;
    case "url-param":
      return `fetch("https://api.example.invalid/v1/items?api_key=${encodeURIComponent(value)}&page=2")`;
    case "basic-auth":
      return `Authorization: Basic ${Buffer.from(`deploy:${value}`).toString("base64")}`;
    case "base64":
      return `secret: ${Buffer.from(value).toString("base64")}`;
    case "hex":
      return `key_hex = ${Buffer.from(value).toString("hex")}`;
    case "ts-string":
      return `const fallback = '${value}';`;
    case "userinfo":
      return `remote = "https://ci:${encodeURIComponent(value)}@git.example.invalid/repo.git"`;
  }
}

function measure(result: ScanResult, truth: Plant[]) {
  const at = new Map(truth.map((p) => [`${p.path}:${p.line}`, p]));
  const falsePositives = result.findings.filter((f) => !at.has(`${f.path}:${f.line}`));
  const found = new Set(result.findings.map((f) => `${f.path}:${f.line}`));
  const missed = truth.filter((p) => !found.has(`${p.path}:${p.line}`));
  const truePositives = result.findings.length - falsePositives.length;
  const precision = result.findings.length === 0 ? 1 : truePositives / result.findings.length;
  const recall = truth.length === 0 ? 1 : (truth.length - missed.length) / truth.length;
  return {
    precision,
    recall,
    falsePositives,
    missed,
    findings: result.findings.length,
    planted: truth.length,
  };
}

function describeMeasure(mode: string, m: ReturnType<typeof measure>, result: ScanResult): string {
  return `${mode}: precision ${(m.precision * 100).toFixed(1)}% recall ${(m.recall * 100).toFixed(1)}% (${m.planted} planted, ${m.findings} findings, ${m.falsePositives.length} false, ${m.missed.length} missed; ${result.stats.scanned} ${mode === "tree" ? "files" : "blobs"})`;
}

describe("planted-key corpus in a generated git repository", () => {
  let scratch: Scratch;
  let repo: string;
  let known: KnownValueSet | undefined;
  let commitIds: string[] = [];
  const treePlants: Plant[] = [];
  const stagedPlants: Plant[] = [];
  const historyPlants: Plant[] = [];
  const ignoredPlants: Plant[] = [];

  before(async () => {
    scratch = makeScratch("keyhold-scan-corpus-");
    repo = join(scratch.root, "repo");
    mkdirSync(repo);
    // Stored values, recorded the way keyhold set/rotate do; one name rotated (old value kept).
    const index = await openFingerprintIndex(scratch.state, { env: scratch.env });
    const values = Array.from({ length: 8 }, () => knownValue(random));
    for (const [i, v] of values.entries())
      await index.record(`svc_key_${i}`, Secret.fromString(v), "credstore");
    const rotatedOut = knownValue(random);
    await index.record("svc_key_0", Secret.fromString(rotatedOut), "credstore");
    known = await index.loadKnownValues();

    const commits: GeneratedCommit[] = Array.from({ length: COMMITS }, (_, i) => ({
      message: `change ${i}`,
      files: {},
    }));
    const first = commits[0]!.files;
    first[".gitignore"] = ".env.local\nbuild/\n";
    for (let i = 0; i < DECOY_FILES; i++) first[`src/module-${i}.ts`] = decoyText(random, 150);
    // Ordinary churn: every commit rewrites a few decoy files, so history holds many blobs.
    for (let c = 1; c < COMMITS; c++) {
      for (let k = 0; k < 3; k++)
        commits[c]!.files[`src/module-${random.below(DECOY_FILES)}.ts`] = decoyText(random, 150);
    }
    // Tree: one file per rule, plus stored values in every form; committed at random points.
    for (const rule of PLANTABLE_RULES) {
      const path = `config/${rule}.conf`;
      const { text, line } = fileWithPlant(plantedLine(rule, random), random);
      commits[random.below(COMMITS)]!.files[path] = text;
      treePlants.push({ path, line, what: rule });
    }
    for (const [i, form] of FORMS.entries()) {
      const path = `deploy/known-${form}.txt`;
      const { text, line } = fileWithPlant(knownLine(values[i % values.length]!, form), random);
      commits[random.below(COMMITS)]!.files[path] = text;
      treePlants.push({ path, line, what: `known ${form}` });
    }
    {
      const path = ".env";
      const text = `PORT=8080\nSTRIPE_WEBHOOK_SECRET=${random.chars("alnum", 32)}\n`;
      commits[5]!.files[path] = text;
      treePlants.push({ path, line: 2, what: "tracked .env" });
    }
    // History: added early, deleted 20-40 commits later: not in the tree, still in history.
    const historyItems: { line: string; what: string }[] = [
      ...Array.from({ length: 8 }, () => {
        const rule = random.pick(PLANTABLE_RULES);
        return { line: plantedLine(rule, random), what: rule };
      }),
      { line: knownLine(rotatedOut, "raw-conf"), what: "rotated-out stored value" },
      { line: knownLine(values[3]!, "base64"), what: "known base64" },
      { line: knownLine(values[4]!, "hex"), what: "known hex" },
      { line: knownLine(values[5]!, "url-param"), what: "known url" },
    ];
    for (const [i, item] of historyItems.entries()) {
      const path = `old/leak-${i}.txt`;
      const addedAt = 1 + random.below(30);
      const { text, line } = fileWithPlant(item.line, random);
      commits[addedAt]!.files[path] = text;
      commits[addedAt + 20 + random.below(20)]!.files[path] = null;
      historyPlants.push({ path, line, what: item.what, addedAt });
    }
    commitIds = buildRepository(repo, commits);

    // Staged, not committed.
    for (let i = 0; i < 6; i++) {
      const path = `staged/new-${i}.txt`;
      const planted =
        i < 4
          ? plantedLine(random.pick(PLANTABLE_RULES), random)
          : knownLine(values[i]!, i === 4 ? "json" : "base64");
      const { text, line } = fileWithPlant(planted, random);
      mkdirSync(dirname(join(repo, path)), { recursive: true });
      writeFileSync(join(repo, path), text);
      stagedPlants.push({ path, line, what: "staged" });
    }
    git(repo, ["add", "staged"]);
    // Ignored by .gitignore: not part of a default tree scan.
    const ignored = fileWithPlant(plantedLine("github-token", random), random);
    writeFileSync(join(repo, ".env.local"), ignored.text);
    ignoredPlants.push({ path: ".env.local", line: ignored.line, what: "ignored" });
  });

  after(() => {
    known?.dispose();
    scratch?.cleanup();
  });

  const options = () => ({ ...(known ? { known } : {}) });
  const report = (line: string) => {
    console.log(`# ${line}`);
  };

  it("tree scan: finds what git would commit, not ignored files", async (t) => {
    const result = await scanTree(repo, {}, options());
    const m = measure(result, [...treePlants, ...stagedPlants]);
    t.diagnostic(describeMeasure("tree", m, result));
    report(describeMeasure("tree", m, result));
    assert.deepEqual(m.missed, []);
    assert.ok(
      m.precision >= 0.95,
      `precision ${m.precision}: ${m.falsePositives.map((f) => `${f.path}:${f.line} ${f.rule}`).join(", ")}`,
    );
    assert.ok(!result.findings.some((f) => f.path === ".env.local"));
  });

  it("tree scan with --all-files also reads ignored files", async () => {
    const result = await scanTree(repo, { allFiles: true }, options());
    const m = measure(result, [...treePlants, ...stagedPlants, ...ignoredPlants]);
    assert.deepEqual(m.missed, []);
  });

  it("staged scan: finds exactly the staged plants", async (t) => {
    const result = await scanStaged(repo, options());
    const m = measure(result, stagedPlants);
    t.diagnostic(describeMeasure("staged", m, result));
    report(describeMeasure("staged", m, result));
    assert.deepEqual(m.missed, []);
    assert.equal(m.falsePositives.length, 0);
    assert.equal(result.stats.scanned, stagedPlants.length);
  });

  it("history scan: finds tree and deleted plants, each blob read once, with the commit that added it", async (t) => {
    const result = await scanHistory(repo, options());
    const m = measure(result, [...treePlants, ...historyPlants]);
    t.diagnostic(describeMeasure("history", m, result));
    report(describeMeasure("history", m, result));
    assert.deepEqual(
      m.missed.map((p) => `${p.path} ${p.what}`),
      [],
    );
    assert.ok(m.precision >= 0.95, `precision ${m.precision}`);
    const blobs = git(repo, ["rev-list", "--objects", "--all", "--filter=object:type=blob"])
      .trim()
      .split("\n")
      .filter((l) => l.includes(" ")).length;
    assert.equal(
      result.stats.scanned + Object.values(result.stats.skipped).reduce((a, b) => a + (b ?? 0), 0),
      blobs,
    );
    for (const plant of historyPlants) {
      const f = result.findings.find((x: Finding) => x.path === plant.path && x.line === plant.line);
      assert.equal(
        f?.commit,
        commitIds[plant.addedAt!],
        `${plant.path} attributed to the commit that added it`,
      );
    }
    const rotated = result.findings.find(
      (f) => f.credentials?.some((c) => c.name === "svc_key_0") && f.path.startsWith("old/"),
    );
    assert.ok(rotated, "a rotated-out value is still found");
    assert.match(rotated.remediation.rotate, /keyhold rotate svc_key_0/);
  });

  it("stored values are found in every form, named, and never shown", async () => {
    const result = await scanTree(repo, {}, options());
    const forms = new Set(result.findings.filter((f) => f.rule === "keyhold-known-value").map((f) => f.form));
    assert.deepEqual([...forms].sort(), ["base64", "hex", "raw", "url"]);
    for (const f of result.findings.filter((x) => x.rule === "keyhold-known-value")) {
      assert.match(f.masked, /^…\(\d+\)$/);
      assert.ok(f.credentials && f.credentials.length > 0);
    }
  });
});
