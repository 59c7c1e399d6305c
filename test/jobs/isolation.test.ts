import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { deflateSync } from "node:zlib";
import { AUDIT_ANCHOR_FILE } from "../../src/audit/index.js";
import { HEAD_ZERO, sealHead } from "../../src/audit/format.js";
import { SecretKey } from "../../src/secret/index.js";
import { makeCanary } from "../support/scratch.js";
import {
  call,
  everythingUnder,
  finalRun,
  follow,
  outputOf,
  processesWithArgument,
  SNOOP_SCRIPT,
  SNOOP_TRIES,
  startServer,
  type TestServer,
  waitFor,
} from "./support.js";

/**
 * What a hostile job and a hostile repository can reach, against a real `keyhold serve` (run by
 * hand, as root) and real jobs: the attacks of the job server's review, each as it was carried
 * out. docs/jobserver.md ("What each run gets", "Threat model") states what these show; the
 * container tests repeat the isolation ones under the rendered unit.
 */

const OTHER_RUN = `sleep 30.125`;
/**
 * Where the server started by hand holds a descriptor it inherited without close-on-exec: Node
 * marks 0 to 15 close-on-exec at start (libuv's uv_disable_stdio_inheritance), not those past a gap.
 */
const STRAY_FD = 20;

describe("job isolation (namespaces of each run)", () => {
  const canary = `${makeCanary("iso")}`;
  const other = makeCanary("other");
  const auditKey = randomBytes(32).toString("hex");
  // A file of the shell that started the server by hand, open on a descriptor the server inherits.
  const strayKey = makeCanary("stray");
  const strayDir = mkdtempSync("/dev/shm/keyhold-stray-");
  let stray: number;
  let s: TestServer;

  before(async () => {
    writeFileSync(join(strayDir, "secret"), strayKey, { mode: 0o600 });
    stray = openSync(join(strayDir, "secret"), "r");
    s = await startServer({
      credentials: { api_key: canary, other_key: other, "keyhold.audit-key": auditKey },
      inherit: [...Array<"ignore">(STRAY_FD - 3).fill("ignore"), stray],
      // The server audits with the key from its credentials (its own, as under the unit), and
      // finds the anchor `keyhold unit --install` wrote with that key in its state directory.
      prepare: async ({ state }) => {
        mkdirSync(state, { recursive: true });
        const key = SecretKey.fromHex(auditKey);
        writeFileSync(join(state, AUDIT_ANCHOR_FILE), sealHead(HEAD_ZERO, key, "anchor"), { mode: 0o600 });
        key.dispose();
      },
      config: ({ root, outputs }) => {
        writeFileSync(join(root, "snoop.sh"), SNOOP_SCRIPT);
        chmodSync(join(root, "snoop.sh"), 0o755);
        return {
          concurrency: 2,
          killGraceSeconds: 1,
          jobs: {
            snoop: {
              argv: [join(root, "snoop.sh")],
              cwd: root,
              credentials: ["api_key"],
              outputDir: outputs,
              params: {
                creds: { pattern: "/.*", env: "SERVER_CREDS" },
                state: { pattern: "/.*", env: "SERVER_STATE" },
                pid: { pattern: "[0-9]+", env: "SERVER_PID" },
              },
            },
            hold: {
              argv: ["/bin/sh", "-c", OTHER_RUN],
              cwd: root,
              credentials: ["other_key"],
              outputDir: outputs,
            },
            daemon: {
              argv: [
                "/bin/sh",
                "-c",
                `( setsid sh -c 'sleep 2.7182; echo late > "$OUT/daemon-marker"' & ); echo started`,
              ],
              cwd: root,
              outputDir: outputs,
              params: { out: { pattern: "/.*", env: "OUT" } },
            },
            say: {
              argv: ["/bin/echo", "{text}"],
              cwd: root,
              outputDir: outputs,
              params: { text: { pattern: "[0-9a-f]{64}" } },
            },
            tmp: {
              argv: ["/bin/sh", "-c", 'ls -A /tmp; echo "run $KEYHOLD_RUN_ID" > /tmp/left-behind'],
              cwd: root,
              outputDir: outputs,
            },
            // Its open descriptors, and what it reads from the server's inherited one (reversed,
            // past the scrubber).
            fds: {
              argv: [
                "/bin/sh",
                "-c",
                `(ls /proc/$$/fd) > /tmp/fds; echo fds $(cat /tmp/fds); ` +
                  `[ -e /proc/$$/fd/${STRAY_FD} ] && echo "read:$(rev < /proc/$$/fd/${STRAY_FD})"; true`,
              ],
              cwd: root,
              outputDir: outputs,
            },
          },
        };
      },
    });
  });

  after(async () => {
    await s.cleanup();
    closeSync(stray);
    rmSync(strayDir, { recursive: true, force: true });
  });

  test("a job reaches none of the server's credentials, state, audit log, other runs or processes; its own credential works", async () => {
    const holding = follow(s.socket, "hold");
    await waitFor("the other run to hold its credential", () =>
      processesWithArgument("30.125").length > 0 ? true : undefined,
    );
    const { events } = await follow(s.socket, "snoop", {
      creds: s.credentials,
      state: s.state,
      pid: String(s.proc.pid),
    });
    const run = finalRun(events);
    assert.equal(run.state, "succeeded", JSON.stringify(run));
    const out = outputOf(events);
    assert.doesNotMatch(out, /LEAK/, out);
    assert.equal((out.match(/^denied /gm) ?? []).length, SNOOP_TRIES, out);
    assert.match(out, new RegExp(`^own=${createHash("sha256").update(canary).digest("hex")}$`, "m"));
    const pids = Number(/^pids=(\d+)$/m.exec(out)?.[1]);
    assert.ok(pids > 0 && pids < 10, `the job's /proc shows its own few processes, not the host's (${pids})`);
    for (const value of [canary, other, auditKey]) assert.ok(!everythingUnder(s.outputs).includes(value));
    await waitFor("the audit record of the snoop run", () =>
      readFileSync(join(s.state, "audit.log"), "utf8").includes('"name":"snoop"') ? true : undefined,
    );
    assert.ok(!readFileSync(join(s.state, "audit.log"), "utf8").includes("forged"));
    assert.doesNotMatch(s.stderr(), /not audited/);
    assert.ok(!existsSync(join(s.state, "planted")));
    const held = (await call(s.socket, "GET", "/v1/runs?job=hold&limit=1")).json as {
      runs: { id: string }[];
    };
    await call(s.socket, "DELETE", `/v1/runs/${held.runs[0]?.id}`);
    assert.equal(finalRun((await holding).events).state, "cancelled");
  });

  test("the server's audit key is scrubbed from job output like every credential", async () => {
    const { events } = await follow(s.socket, "say", { text: auditKey });
    assert.equal(outputOf(events), "[REDACTED:keyhold.audit-key]\n");
  });

  test("nothing a run starts outlives it: a setsid daemon is killed with the run's PID namespace", async () => {
    const { events } = await follow(s.socket, "daemon", { out: s.outputs });
    assert.equal(finalRun(events).state, "succeeded");
    assert.equal(outputOf(events), "started\n");
    assert.deepEqual(processesWithArgument("2.7182"), [], "the daemon is gone when the run ends");
    await sleep(3500);
    assert.ok(!existsSync(join(s.outputs, "daemon-marker")), "the daemon never wrote its marker");
  });

  test("a descriptor the server started by hand inherited without close-on-exec never reaches a job", async () => {
    const { events } = await follow(s.socket, "fds");
    assert.equal(finalRun(events).state, "succeeded");
    const out = outputOf(events);
    assert.ok(
      !out.includes([...strayKey].reverse().join("")),
      `the job read the server's inherited file: ${out}`,
    );
    assert.equal(out, "fds 0 1 2\n", "the job has stdin, stdout and stderr, nothing else");
  });

  test("each run has its own empty /tmp: nothing one run leaves there reaches the next", async () => {
    const first = await follow(s.socket, "tmp");
    assert.equal(outputOf(first.events), "");
    const second = await follow(s.socket, "tmp");
    assert.equal(outputOf(second.events), "", "the first run's file is not in the second run's /tmp");
  });
});

/**
 * A developer's repository set up to run code inside the server while it checks the tree, or to
 * change what the check sees: every place git would take a program or an object from is the
 * developer's to fill.
 */
describe("code policy committed against a hostile repository", () => {
  const canary = makeCanary("repo");
  let s: TestServer;
  let repo: string;
  let py: string;
  const git = (dir: string, ...args: string[]) =>
    execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.org", ...args], {
      encoding: "utf8",
      stdio: "pipe",
    });

  before(async () => {
    s = await startServer({
      credentials: { api_key: canary },
      config: ({ root, outputs }) => ({
        jobs: {
          run: {
            argv: ["/bin/sh", "run.sh"],
            cwd: join(root, "repo"),
            outputDir: outputs,
            codePolicy: "committed",
          },
          absolute: {
            argv: ["/bin/sh", join(root, "repo", "run.sh")],
            cwd: join(root, "repo"),
            outputDir: outputs,
            codePolicy: "committed",
          },
          python: {
            argv: ["/usr/bin/python3", "main.py"],
            cwd: join(root, "py", "src"),
            credentials: ["api_key"],
            outputDir: outputs,
            codePolicy: "committed",
          },
        },
      }),
    });
    repo = join(s.root, "repo");
    py = join(s.root, "py");
    mkdirSync(repo);
    git(repo, "init", "-q");
    writeFileSync(join(repo, "run.sh"), "echo committed-run\n");
    git(repo, "add", "run.sh");
    git(repo, "commit", "-qm", "first");

    // The program git would run: it copies the server's credentials into the outputs.
    const attack = join(s.root, "attack.sh");
    writeFileSync(
      attack,
      `#!/bin/sh\ncat ${s.credentials}/* > ${s.outputs}/stolen-$$ 2>/dev/null\ntouch ${s.outputs}/attack-ran\ncat\n`,
    );
    chmodSync(attack, 0o755);
    writeFileSync(
      join(s.root, "extra.gitconfig"),
      `[filter "y"]\n\tclean = ${attack}\n\tsmudge = ${attack}\n`,
    );
    const hooks = join(repo, ".git", "hooks");
    for (const hook of ["post-checkout", "post-index-change", "reference-transaction", "pre-auto-gc"]) {
      writeFileSync(join(hooks, hook), `#!/bin/sh\nexec ${attack}\n`);
      chmodSync(join(hooks, hook), 0o755);
    }
    writeFileSync(
      join(repo, ".git", "config"),
      `${readFileSync(join(repo, ".git", "config"), "utf8")}` +
        `[core]\n\tfsmonitor = ${attack}\n\tpager = ${attack}\n` +
        `[filter "x"]\n\tclean = ${attack}\n\tsmudge = ${attack}\n\tprocess = ${attack}\n\trequired = true\n` +
        `[diff "x"]\n\ttextconv = ${attack}\n` +
        `[include]\n\tpath = ${join(s.root, "extra.gitconfig")}\n`,
    );
    writeFileSync(join(repo, ".git", "info", "attributes"), "* filter=x diff=x\nrun.sh filter=y\n");

    // Python: an ignored json.pyc next to a committed script shadows the standard json module.
    mkdirSync(join(py, "src"), { recursive: true });
    git(py, "init", "-q");
    writeFileSync(join(py, ".gitignore"), "*.pyc\n__pycache__/\n");
    writeFileSync(join(py, "src", "main.py"), 'import json\nprint(json.dumps({"job": "ok"}))\n');
    git(py, "add", "-A");
    git(py, "commit", "-qm", "first");
    const evil = join(py, "src", "json.py");
    writeFileSync(
      evil,
      `import os\nkey = open(os.path.join(os.environ["CREDENTIALS_DIRECTORY"], "api_key")).read()\n` +
        `open(${JSON.stringify(join(s.outputs, "pyc-stolen"))}, "w").write(key[::-1])\n` +
        `def dumps(o):\n    return "shadowed"\n`,
    );
    execFileSync("/usr/bin/python3", [
      "-c",
      `import py_compile; py_compile.compile(${JSON.stringify(evil)}, cfile=${JSON.stringify(join(py, "src", "json.pyc"))})`,
    ]);
    execFileSync("rm", [evil]);
    assert.equal(
      git(py, "status", "--porcelain"),
      "",
      "json.pyc is ignored: the work tree looks clean to git",
    );
  });

  after(async () => {
    await s.cleanup();
  });

  test("the repository's filters, fsmonitor, hooks, textconv and includes never run in the server", async () => {
    const head = git(repo, "rev-parse", "HEAD").trim();
    for (const job of ["run", "absolute"]) {
      const { events } = await follow(s.socket, job);
      const run = finalRun(events);
      assert.equal(run.state, "succeeded", JSON.stringify(run));
      assert.equal(run.revision, head);
      assert.equal(outputOf(events), "committed-run\n");
    }
    assert.deepEqual(
      readdirSync(s.outputs).filter((f) => f !== "logs"),
      [],
      "the attack program never ran",
    );
    assert.ok(!everythingUnder(s.outputs).includes(canary));
  });

  test("an ignored json.pyc next to a committed script is not in the copy the job runs", async () => {
    const { events } = await follow(s.socket, "python");
    const run = finalRun(events);
    assert.equal(run.state, "succeeded", JSON.stringify(run));
    assert.equal(run.revision, git(py, "rev-parse", "HEAD").trim());
    assert.equal(outputOf(events), '{"job": "ok"}\n');
    assert.ok(!existsSync(join(s.outputs, "pyc-stolen")), "the shadowing module never ran");
  });

  test("replace refs cannot swap the commit, and a rewritten object is refused, not run", async () => {
    const head = git(repo, "rev-parse", "HEAD").trim();
    writeFileSync(join(s.root, "evil.sh"), "echo replaced\n");
    const blob = git(repo, "hash-object", "-w", "--no-filters", join(s.root, "evil.sh")).trim();
    const tree = execFileSync("git", ["-C", repo, "mktree"], {
      input: `100644 blob ${blob}\trun.sh\n`,
      encoding: "utf8",
    }).trim();
    const evil = git(repo, "commit-tree", tree, "-m", "evil").trim();
    git(repo, "replace", head, evil);
    assert.equal(git(repo, "show", "HEAD:run.sh"), "echo replaced\n", "git itself now shows the replacement");
    const replaced = await follow(s.socket, "run");
    assert.equal(outputOf(replaced.events), "committed-run\n");
    assert.equal(finalRun(replaced.events).revision, head);
    git(repo, "replace", "-d", head);

    // The committed blob's loose object, rewritten with other content under the same name.
    const original = git(repo, "rev-parse", "HEAD:run.sh").trim();
    const path = join(repo, ".git", "objects", original.slice(0, 2), original.slice(2));
    const forged = Buffer.from("echo forged\n");
    chmodSync(path, 0o644);
    writeFileSync(path, deflateSync(Buffer.concat([Buffer.from(`blob ${forged.length}\0`), forged])));
    const tampered = await follow(s.socket, "run");
    const run = finalRun(tampered.events);
    assert.equal(run.state, "error");
    assert.deepEqual(run.error, {
      code: "SNAPSHOT_FAILED",
      message: `object ${original.slice(0, 12)} does not match its id`,
    });
    assert.doesNotMatch(outputOf(tampered.events), /forged/);
  });
});
