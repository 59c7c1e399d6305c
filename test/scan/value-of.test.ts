import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { initWorld, runCli, runCliOk } from "../support/cli.js";
import { startProcSampler } from "../support/proc-sampler.js";
import { makeCanary, type Scratch } from "../support/scratch.js";
import { buildRepository, git } from "./support/repo.js";

// The incident view: where one stored credential's exact value is in a repository's history,
// raw or encoded, answered without the value ever reaching output, argv, environment or disk.

/** Every file below `dir` (the scratch world: store, state, repository) whose bytes hold `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (statSync(path).size < 16 * 1024 * 1024 && readFileSync(path).includes(needle)) found.push(path);
  }
  return found;
}

describe("keyhold scan --history --value-of NAME", () => {
  let scratch: Scratch;
  let repo: string;
  let commits: string[];
  const canary = makeCanary("value-of");
  const base64 = Buffer.from(canary).toString("base64");
  const hex = Buffer.from(canary).toString("hex");

  before(async () => {
    scratch = await initWorld("keyhold-scan-value-of-");
    await runCliOk(["set", "payments_api_key"], { env: scratch.env, input: `${canary}\n` });
    await runCliOk(["set", "other_key"], { env: scratch.env, input: `${makeCanary("other")}\n` });
    repo = join(scratch.root, "repo");
    mkdirSync(repo);
    commits = buildRepository(repo, [
      { message: "start", files: { "README.md": "# app\n" } },
      { message: "config", files: { "config/app.env": `PAYMENTS_KEY=${canary}\n` } },
      { message: "k8s", files: { "k8s/secret.yaml": `data:\n  key: ${base64}\n` } },
      { message: `debug: key hex ${hex}`, files: { "src/app.js": "x\n" } },
      { message: "remove it", files: { "config/app.env": "PAYMENTS_KEY=\n" } },
    ]);
    git(repo, ["branch", "old-config", commits[1]!]);
  });
  after(() => scratch?.cleanup());

  it("names every commit, path and ref that holds the value (raw, base64, hex), and never prints it", async () => {
    const sampler = await startProcSampler([canary, base64, hex]);
    const json = await runCli(["scan", "--history", "--value-of", "payments_api_key", "--json", repo], {
      env: scratch.env,
    });
    const text = await runCli(["scan", "--history", "--value-of", "payments_api_key", repo], {
      env: scratch.env,
    });
    const report = await sampler.stop();
    assert.equal(json.code, 3, json.stderr);
    assert.equal(text.code, 3, text.stderr);
    assert.deepEqual(report.hits, [], "the value reached a process's argv or environment");
    for (const out of [json.stdout, json.stderr, text.stdout, text.stderr]) {
      for (const form of [canary, base64, hex])
        assert.ok(!out.includes(form), "the value (or an encoding of it) was printed");
    }
    const parsed = JSON.parse(json.stdout);
    const places = parsed.leaks.flatMap(
      (l: {
        places: {
          path: string;
          message?: string;
          introduced?: { commit: string };
          removed?: { commit: string };
          inHead: boolean;
          refs?: string[];
        }[];
      }) => l.places,
    );
    const byPath = Object.fromEntries(
      places.map((p: { path: string; message?: string }) => [p.message ?? p.path, p]),
    );
    assert.deepEqual(Object.keys(byPath).sort(), ["commit", "config/app.env", "k8s/secret.yaml"]);
    assert.equal(byPath["config/app.env"].introduced.commit, commits[1]);
    assert.equal(byPath["config/app.env"].removed.commit, commits[4]);
    assert.equal(byPath["config/app.env"].inHead, false);
    assert.deepEqual(byPath["config/app.env"].refs, ["refs/heads/main", "refs/heads/old-config"]);
    assert.equal(byPath["k8s/secret.yaml"].inHead, true);
    assert.deepEqual(byPath["k8s/secret.yaml"].refs, ["refs/heads/main"]);
    assert.equal(byPath.commit.introduced.commit, commits[3]);
    const forms = parsed.findings.map((f: { form: string }) => f.form).sort();
    assert.deepEqual(forms, ["base64", "hex", "raw"]);
    for (const f of parsed.findings)
      assert.deepEqual(f.credentials, [{ name: "payments_api_key", source: "credstore" }]);
    assert.match(
      text.stdout,
      /config\/app\.env:1:14: keyhold-known-value: value stored in keyhold \(credstore payments_api_key\)/,
    );
    assert.match(text.stdout, /in refs\/heads\/main, refs\/heads\/old-config/);
    // Nothing new on disk holds it: only the encrypted store and the repository's own files do.
    const holding = filesHolding(scratch.root, canary).map((p) => p.slice(scratch.root.length + 1));
    assert.ok(
      holding.every((p) => p.startsWith("repo/")),
      holding.join(", "),
    );
  });

  it("finds nothing for another credential, and refuses a missing one or a scan mode without history", async () => {
    const other = await runCli(["scan", "--history", "--value-of", "other_key", repo], { env: scratch.env });
    assert.equal(other.code, 0, other.stderr);
    const missing = await runCli(["scan", "--history", "--value-of", "nope", repo], { env: scratch.env });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /\[CREDENTIAL_NOT_FOUND\]/);
    const tree = await runCli(["scan", "--value-of", "payments_api_key", repo], { env: scratch.env });
    assert.equal(tree.code, 2);
    assert.match(tree.stderr, /--value-of needs --history, --range or --since \[USAGE\]/);
    const audit = await runCli(["audit"], { env: scratch.env });
    assert.match(audit.stdout + audit.stderr, /scan\.value-of/);
  });
});
