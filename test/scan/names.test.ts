import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { findingId } from "../../src/scan/finding.js";
import {
  displayPath,
  findingPathBytes,
  MAX_FAILURES_LISTED,
  pathText,
  Scanner,
} from "../../src/scan/index.js";
import { findingPathFields, pathUri } from "../../src/scan/path.js";
import { globMatcher } from "../../src/scan/policy.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { git, initRepository, runKeyhold } from "./support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

// File names are bytes: git and Linux allow any byte but NUL and '/', UTF-8 or not. A key in a
// file whose name is not valid UTF-8 must be found and reported with that exact name.

const random = new SeededRandom("keyhold-scan-names");
const githubToken = expandTemplate(KEY_TEMPLATES["github-token"]!, random);
const gitlabToken = expandTemplate(KEY_TEMPLATES["gitlab-token"]!, random);

const bytes = (...parts: Array<string | number[] | Buffer>) =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))));

/** evil\xff.txt at the top, and conf.txt in a directory named dir\xfe\xfd. */
const EVIL = bytes("evil", [0xff], ".txt");
const DIR = bytes("dir", [0xfe, 0xfd]);
const NESTED = bytes(DIR, "/conf.txt");

function keyhold(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return runKeyhold(["scan", "--no-known-values", "--no-progress", ...args], { cwd, env });
}

interface JsonFinding {
  path: string;
  pathBase64?: string;
  rule: string;
  line: number;
}

describe("file names that are not valid UTF-8", () => {
  let scratch: Scratch;
  let repo: string;

  before(() => {
    scratch = makeScratch("keyhold-scan-names-");
    repo = initRepository(join(scratch.root, "repo"));
    writeFileSync(bytes(repo, "/", EVIL), `TOKEN = "${githubToken}"\n`);
    mkdirSync(bytes(repo, "/", DIR));
    writeFileSync(bytes(repo, "/", NESTED), `gitlab: ${gitlabToken}\n`);
  });
  after(() => scratch?.cleanup());

  /** Both keys, each under its exact name, in text, JSON and SARIF. */
  function assertFound(args: string[]): void {
    const label = args.join(" ") || "tree";
    const text = keyhold(args, repo, scratch.env);
    assert.equal(text.code, 3, `${label}: ${text.stdout}${text.stderr}`);
    assert.match(text.stdout, /^evil\\xff\.txt:1:10: github-token: /m, label);
    assert.match(text.stdout, /^dir\\xfe\\xfd\/conf\.txt:1:9: gitlab-token: /m, label);

    const json = keyhold([...args, "--json"], repo, scratch.env);
    const found = (JSON.parse(json.stdout).findings as JsonFinding[]).map((f) => ({
      path: f.path,
      bytes: findingPathBytes(f).toString("hex"),
      rule: f.rule,
    }));
    assert.deepEqual(
      found.sort((a, b) => a.rule.localeCompare(b.rule)),
      [
        { path: "evil\\xff.txt", bytes: EVIL.toString("hex"), rule: "github-token" },
        { path: "dir\\xfe\\xfd/conf.txt", bytes: NESTED.toString("hex"), rule: "gitlab-token" },
      ],
      label,
    );

    const sarif = JSON.parse(keyhold([...args, "--sarif"], repo, scratch.env).stdout);
    const uris = sarif.runs[0].results.map(
      (r: { locations: Array<{ physicalLocation: { artifactLocation: { uri: string } } }> }) =>
        r.locations[0]!.physicalLocation.artifactLocation.uri,
    );
    assert.deepEqual(uris.sort(), ["dir%FE%FD/conf.txt", "evil%FF.txt"], label);
  }

  it("a tree scan reads them (untracked, then tracked)", () => {
    assertFound([]);
    assertFound(["--all-files"]);
  });

  it("--staged reports them under their exact names", () => {
    git(repo, ["add", "-A"]);
    assertFound(["--staged"]);
    assertFound([]);
  });

  it("--history reports them under their exact names", () => {
    git(repo, ["commit", "-qm", "add config"]);
    assertFound(["--history"]);
  });

  it("allow.paths globs match such names (a byte that is not UTF-8 is one character)", () => {
    writeFileSync(
      join(repo, ".keyhold-scan.json"),
      JSON.stringify({ version: 1, allow: { paths: ["evil?.txt", "dir*/**"] } }),
    );
    try {
      const r = keyhold([], repo, scratch.env);
      assert.equal(r.code, 0, r.stdout);
      assert.match(r.stdout, /skipped: 2 allowlisted/);
    } finally {
      writeFileSync(join(repo, ".keyhold-scan.json"), JSON.stringify({ version: 1 }));
    }
  });
});

describe("path representation", () => {
  it("is lossless for every byte and exact for UTF-8 names", () => {
    const names = [
      Buffer.from("plain/ascii.txt"),
      Buffer.from("dé/日本/😀.env"),
      Buffer.from(Array.from({ length: 255 }, (_, i) => i + 1).filter((b) => b !== 0x2f)),
      bytes([0xed, 0xa0, 0x80], "surrogate-in-utf8"),
      bytes([0xc0, 0xaf], "overlong"),
      bytes("a", [0xe2, 0x82], "truncated"),
    ];
    for (const name of names) {
      const fields = findingPathFields(name);
      assert.deepEqual(findingPathBytes(fields), name, name.toString("hex"));
      if (fields.pathBase64 === undefined) assert.equal(fields.path, name.toString("utf8"));
      // pathText is one-to-one: no two names read as the same text.
      assert.deepEqual(Buffer.from(pathText(name), "utf8").equals(name), fields.pathBase64 === undefined);
    }
    assert.equal(displayPath(EVIL), "evil\\xff.txt");
    assert.equal(pathUri(EVIL), "evil%FF.txt");
    assert.equal(pathUri("a b/ü.txt"), `${encodeURIComponent("a b")}/${encodeURIComponent("ü.txt")}`);
    assert.ok(globMatcher("evil?.txt")(pathText(EVIL)));
    assert.ok(!globMatcher("evil?.txt")(pathText(bytes("evil", [0xff, 0xfe], ".txt"))));
  });

  it("every unreadable file is counted, and the first 20 are named", () => {
    const scanner = new Scanner();
    for (let i = 0; i < 25; i++) scanner.unreadable(bytes(`f${i}`, [0xff]), "cannot read it (EIO)");
    assert.equal(scanner.stats.skipped.unreadable, 25);
    assert.equal(scanner.stats.failures.length, MAX_FAILURES_LISTED);
    assert.equal(scanner.stats.failures[0], "f0\\xff: cannot read it (EIO)");
  });

  it("finding ids of UTF-8 paths are the ones earlier versions wrote (baselines stay valid)", () => {
    const before = createHash("sha256")
      .update("keyhold-scan-finding\0github-token\0src/dé.ts\0value")
      .digest("hex")
      .slice(0, 16);
    assert.equal(findingId("github-token", Buffer.from("src/dé.ts"), "value"), before);
    assert.notEqual(
      findingId("github-token", EVIL, "value"),
      findingId("github-token", "evil\uFFFD.txt", "value"),
    );
  });
});
