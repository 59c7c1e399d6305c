/**
 * keyhold(1) and the bash and zsh completions: rendered from the command table that answers
 * --help, installed under dist/share by the build, and each one naming every command and every
 * option the parser accepts. The man page is rendered by groff and man; the bash completion runs
 * in bash; the zsh one is parsed by zsh.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { optionsOf } from "../../src/cli/command.js";
import {
  loadReference,
  type Reference,
  renderBashCompletion,
  renderManPage,
  renderZshCompletion,
} from "../../src/cli/reference.js";
import { REPO_ROOT } from "../support/cli.js";

const SHARE = join(REPO_ROOT, "dist", "share");
const MAN_PAGE = join(SHARE, "man", "man1", "keyhold.1");
const BASH = join(SHARE, "bash-completion", "completions", "keyhold");
const ZSH = join(SHARE, "zsh", "site-functions", "_keyhold");
const VERSION = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).version as string;

/** Every flag a row accepts, long and short. */
function flagsOf(row: Reference["rows"][number]): string[] {
  return Object.entries(optionsOf(row.def)).flatMap(([name, s]) => [
    `--${name}`,
    ...(s.short ? [`-${s.short}`] : []),
  ]);
}

let ref: Reference;
before(async () => {
  ref = await loadReference();
});

describe("the installed files are the table's", () => {
  it("dist/share holds exactly what the renderers make of the current table (the build wrote them)", () => {
    assert.equal(readFileSync(MAN_PAGE, "utf8"), renderManPage(ref, VERSION));
    assert.equal(readFileSync(BASH, "utf8"), renderBashCompletion(ref));
    assert.equal(readFileSync(ZSH, "utf8"), renderZshCompletion(ref));
  });
});

describe("keyhold(1)", () => {
  it("renders with groff without a single warning", () => {
    const r = spawnSync("groff", ["-man", "-Tutf8", "-ww", "-z", MAN_PAGE], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
  });

  it("man -l shows every command with every one of its options", () => {
    const r = spawnSync("man", ["-l", MAN_PAGE], {
      encoding: "utf8",
      env: { ...process.env, MANPAGER: "cat", PAGER: "cat", MANWIDTH: "200", LANG: "C.UTF-8" },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^KEYHOLD\(1\)/);
    // Sections of COMMANDS: "   keyhold WORDS" headings, then the row's synopsis, text and options.
    const sections = new Map<string, string>();
    const parts = r.stdout.split(/^ {3}keyhold (.+)$/m);
    for (let i = 1; i < parts.length; i += 2) sections.set(parts[i] as string, parts[i + 1] as string);
    for (const row of ref.rows) {
      const text = sections.get(row.words);
      assert.ok(text !== undefined, `no section for keyhold ${row.words}`);
      for (const flag of flagsOf(row))
        assert.match(text, new RegExp(`^ {7}(?:-\\w, )?${flag}\\b`, "m"), `keyhold ${row.words}: ${flag}`);
    }
    for (const c of ref.commands) assert.match(r.stdout, new RegExp(`^ {7}${c.word}\\b`, "m"), c.word);
    for (const section of ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "ENVIRONMENT"])
      assert.match(r.stdout, new RegExp(`^${section}$`, "m"));
  });
});

/** Runs the completion function for each command line; prints one line of candidates per line. */
function bashComplete(lines: string[][]): string[][] {
  const script = [
    `source ${JSON.stringify(BASH)}`,
    `complete -p keyhold`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's own ${…}, not a template
    't() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _keyhold; echo "${COMPREPLY[*]}"; }',
    ...lines.map((words) => `t ${words.map((w) => `'${w}'`).join(" ")}`),
  ].join("\n");
  // --norc: stdin on a socket pair (as Node spawns) would otherwise make bash read ~/.bashrc.
  const r = spawnSync("bash", ["--norc", "--noprofile", "-c", script], { encoding: "utf8", cwd: REPO_ROOT });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  const [registered, ...out] = r.stdout.replace(/\n$/, "").split("\n");
  assert.equal(registered, "complete -F _keyhold keyhold");
  return out.map((l) => (l === "" ? [] : l.split(" ")));
}

describe("bash completion", () => {
  it("offers every command, every vault subcommand, and for each row exactly its options", () => {
    const rows = ref.rows;
    const out = bashComplete([
      ["keyhold", ""],
      ["keyhold", "vault", ""],
      ...rows.map((row) => ["keyhold", ...row.words.split(" "), "-"]),
    ]);
    assert.deepEqual(
      out[0]?.sort(),
      [...ref.commands.map((c) => c.word), "help", "--help", "--version"].sort(),
    );
    assert.deepEqual(out[1]?.sort(), [...(ref.groups.vault ?? []).map((s) => s.word), "help"].sort());
    rows.forEach((row, i) => {
      assert.deepEqual(out[i + 2]?.sort(), flagsOf(row).sort(), `keyhold ${row.words} -<TAB>`);
    });
  });

  it("completes words, option values, files and the command after --", () => {
    const out = bashComplete([
      ["keyhold", "rot"],
      ["keyhold", "vault", "ro"],
      ["keyhold", "set", "a", "--with-key", "h"],
      ["keyhold", "unit", "x", "--mode", ""],
      ["keyhold", "vault", "rotate", ""],
      ["keyhold", "scan", "--state", "sr"],
      ["keyhold", "import-env", "package.j"],
      ["keyhold", "run", "a", "--", "bas"],
    ]);
    assert.deepEqual(out[0], ["rotate"]);
    assert.deepEqual(out[1]?.sort(), ["rollback", "rotate"]);
    assert.deepEqual(out[2]?.sort(), ["host", "host+tpm2"]);
    assert.deepEqual(out[3], ["standard", "isolated", "jobserver"]);
    assert.deepEqual(out[4], ["master", "kek", "dek"]);
    assert.deepEqual(out[5], ["src"]);
    assert.deepEqual(out[6], ["package.json"]);
    assert.ok(out[7]?.includes("bash"), out[7]?.join(" "));
  });
});

describe("zsh completion", () => {
  it("parses, and names every command and each row's options under that row", (t) => {
    const zsh = spawnSync("zsh", ["-n", ZSH], { encoding: "utf8" });
    if (zsh.error) t.skip("zsh is not installed (scripts/setup.sh installs it)");
    else assert.equal(zsh.status, 0, zsh.stderr);
    const text = readFileSync(ZSH, "utf8");
    assert.match(text, /^#compdef keyhold\n/);
    for (const c of ref.commands) assert.ok(text.includes(`    '${c.word}:`), c.word);
    for (const row of ref.rows) {
      const start = text.indexOf(`    '${row.words}') _arguments`);
      assert.ok(start >= 0, `no case for ${row.words}`);
      const body = text.slice(start, text.indexOf(" ;;\n", start));
      for (const flag of flagsOf(row))
        assert.ok(body.includes(`'${flag}[`) || body.includes(`'*${flag}[`), `${row.words}: ${flag}`);
    }
  });
});
