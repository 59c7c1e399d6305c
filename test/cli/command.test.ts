/**
 * The command framework as a user meets it: a closed pipe ends keyhold quietly, typos get the
 * nearest command or option, unknown options are reported in keyhold's own words without echoing
 * a value, and every command is built the one way (src/cli/command.ts).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { editDistance, nearest } from "../../src/cli/command.js";
import { firstErrorLine, initWorld, KEYHOLD_BIN, REPO_ROOT, runCli, runCliOk } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";

/** bash without start-up files: stdin on a socket pair (as Node spawns) would make it read ~/.bashrc. */
const BASH = ["--norc", "--noprofile", "-c"];

/**
 * Runs keyhold with its stdout on a pipe whose reader is already gone: a FIFO opened read-write
 * (so the write end can be opened without blocking) and then closed, leaving only the writer.
 * Every write keyhold makes gets EPIPE, whatever the timing.
 */
function intoClosedPipe(args: readonly string[], env: NodeJS.ProcessEnv, input = "") {
  const script = `f=$(mktemp -u) && mkfifo -m 600 "$f" && exec 3<>"$f" 4>"$f" && exec 3<&- && rm "$f" && "$@" >&4; echo "exit=$?"`;
  const r = spawnSync("bash", [...BASH, script, "bash", process.execPath, KEYHOLD_BIN, ...args], {
    env,
    input,
    encoding: "utf8",
  });
  const exit = /exit=(\d+)\n$/.exec(r.stdout)?.[1];
  assert.ok(exit !== undefined, `no exit status from the shell: ${r.stdout} ${r.stderr}`);
  return { code: Number(exit), stderr: r.stderr };
}

describe("a closed pipe ends keyhold quietly", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld("keyhold-pipe-");
    await runCliOk(["set", "pipe_key"], { env: s.env, input: makeCanary("pipe") });
  });
  after(() => s.cleanup());

  for (const args of [["--help"], ["help"], ["set", "--help"], ["vault", "help"], ["ls", "--json"], ["ls"]]) {
    it(`$ keyhold ${args.join(" ")} | (reader gone)  → exit 0, nothing on stderr`, () => {
      const r = intoClosedPipe(args, s.env);
      assert.equal(r.stderr, "");
      assert.equal(r.code, 0);
    });
  }

  it("$ keyhold import-env FILE | (reader gone)  → the import completes, only its note on stderr", async () => {
    const file = join(s.root, "pipe.env");
    writeFileSync(file, `PIPE_ONE=${makeCanary("one")}\nPIPE_TWO=${makeCanary("two")}\n`, { mode: 0o600 });
    const r = intoClosedPipe(["import-env", file], s.env);
    assert.equal(
      r.stderr,
      `keyhold: note: ${file} still holds the values in plaintext; remove it or rerun with --shred\n`,
    );
    assert.equal(r.code, 0);
    const names = JSON.parse((await runCliOk(["ls", "--json"], { env: s.env })).stdout).map(
      (e: { name: string }) => e.name,
    );
    assert.ok(names.includes("pipe_one") && names.includes("pipe_two"), names.join(","));
  });

  it("$ keyhold get NAME | (reader gone)  → exit 141 as for SIGPIPE, nothing on stderr, the read audited", async () => {
    const r = intoClosedPipe(["get", "pipe_key"], s.env);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 141);
    const records = JSON.parse((await runCliOk(["audit", "--json"], { env: s.env })).stdout);
    const last = records.at(-1);
    assert.deepEqual([last?.op, last?.name, last?.result], ["get", "pipe_key", "ok"]);
  });

  it("$ keyhold --help | head -1  prints the first line only, and no stack", () => {
    const r = spawnSync(
      "bash",
      [
        ...BASH,
        `"$@" | head -1; echo "exit=\${PIPESTATUS[0]}"`,
        "bash",
        process.execPath,
        KEYHOLD_BIN,
        "--help",
      ],
      {
        env: s.env,
        encoding: "utf8",
      },
    );
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^usage: keyhold COMMAND \[ARGS…\]\nexit=0\n$/);
  });
});

describe("typos and unknown options, in keyhold's own words", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld("keyhold-typo-");
  });
  after(() => s.cleanup());

  const cases: Array<[string[], string, string]> = [
    [["rotat", "a"], "keyhold: unknown command: rotat [USAGE]", "did you mean 'keyhold rotate'?"],
    [["imprt-env"], "keyhold: unknown command: imprt-env [USAGE]", "did you mean 'keyhold import-env'?"],
    [
      ["frobnicate"],
      "keyhold: unknown command: frobnicate [USAGE]",
      "run 'keyhold help' for the list of commands",
    ],
    [
      ["vault", "gte", "a/b"],
      "keyhold: unknown vault subcommand: gte [USAGE]",
      "did you mean 'keyhold vault get'?",
    ],
    [
      ["set", "a", "--not-aftr", "+1d"],
      "keyhold: unknown option --not-aftr (did you mean --not-after?) [USAGE]",
      "usage: keyhold set NAME",
    ],
    [["ls", "--jsno"], "keyhold: unknown option --jsno (did you mean --json?) [USAGE]", "usage: keyhold ls"],
    [
      ["scan", "--histroy"],
      "keyhold: unknown option --histroy (did you mean --history?) [USAGE]",
      "usage: keyhold scan",
    ],
    [["unit", "x", "--bogus"], "keyhold: unknown option --bogus [USAGE]", "usage: keyhold unit SERVICE"],
    [
      ["vault", "put", "a/b", "--from-fil", "x"],
      "keyhold: unknown option --from-fil (did you mean --from-file?) [USAGE]",
      "usage: keyhold vault put",
    ],
    [["ls", "--store"], "keyhold: option --store needs a value (DIR) [USAGE]", "usage: keyhold ls"],
    [["ls", "--json=yes"], "keyhold: option --json takes no value [USAGE]", "usage: keyhold ls"],
    [
      ["rollback", "a", "--to", "-1"],
      "keyhold: option --to needs a value; one that starts with '-' is written --to=VALUE [USAGE]",
      "usage: keyhold rollback",
    ],
  ];
  for (const [args, first, hint] of cases) {
    it(`$ keyhold ${args.join(" ")}  → ${first}`, async () => {
      const r = await runCli(args, { env: s.env });
      assert.equal(r.code, 2, r.stderr);
      const [line, hintLine, rest] = r.stderr.split("\n");
      assert.equal(line, first);
      assert.ok(hintLine?.startsWith("keyhold: hint: ") && hintLine.includes(hint), hintLine);
      assert.equal(rest, "");
      assert.equal(r.stdout, "");
    });
  }

  it("never echoes a value given to an unknown option, nor Node's parser text", async () => {
    const canary = makeCanary("opt");
    for (const args of [
      ["set", "a", `--token=${canary}`],
      ["set", "a", `-${canary}`],
      ["set", "a", `--${canary}${canary}`],
      ["vault", "put", "a/b", `--value=${canary}`],
    ]) {
      const r = await runCli(args, { env: s.env, input: canary });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(firstErrorLine(r.stderr).code, "USAGE");
      assert.ok(!r.stderr.includes(canary.slice(3)), `echoed: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /To specify a positional argument|Unknown option '/);
    }
  });

  it("nearest() suggests within a third of the word, or a unique prefix, and nothing far off", () => {
    const words = ["rotate", "rollback", "run", "runs", "rm", "import", "import-env"];
    assert.equal(nearest("rotat", words), "rotate");
    assert.equal(nearest("rollbak", words), "rollback");
    assert.equal(nearest("rnu", words), "run");
    assert.equal(nearest("import-e", words), "import-env");
    assert.equal(nearest("xyzzy", words), undefined);
    assert.equal(editDistance("rnu", "run"), 1, "a transposition counts once");
  });
});

describe("one way to build a command", () => {
  it("no command file parses arguments itself: only src/cli/command.ts imports parseArgs", () => {
    const dir = join(REPO_ROOT, "src", "cli");
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    const parsing = files.filter((f) =>
      /import\s*\{[^}]*\bparseArgs\b[^}]*\}\s*from\s*"node:util"/.test(readFileSync(join(dir, f), "utf8")),
    );
    assert.deepEqual(parsing, ["command.ts"]);
  });

  it("keyhold help WORDS… is WORDS… --help", async () => {
    assert.deepEqual(
      await runCliOk(["help", "vault", "put"], { env: process.env }),
      await runCliOk(["vault", "put", "--help"], { env: process.env }),
    );
    const r = await runCli(["help", "rotat"], { env: process.env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /did you mean 'keyhold rotate'\?/);
  });

  it("every command's --help exits 0 with its usage line and an options list", async () => {
    const { loadReference } = await import("../../src/cli/reference.js");
    const ref = await loadReference();
    for (const row of ref.rows) {
      const r = await runCli([...row.words.split(" "), "--help"], { env: process.env });
      assert.equal(r.code, 0, `${row.words}: ${r.stderr}`);
      assert.ok(r.stdout.startsWith(`usage: keyhold ${row.def.synopsis}\n`), row.words);
      assert.match(r.stdout, /\noptions:\n(?: {2}.+\n)+$/, row.words);
    }
  });
});
