import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { makeCanary } from "../support/scratch.js";
import {
  asOtherUser,
  call,
  everythingUnder,
  finalRun,
  follow,
  OTHER_UID,
  runCli,
  type Reply,
  startServer,
  type TestServer,
} from "./support.js";

/**
 * The run logs live in outputs/, which the developers (and, in the setup this replaces, every
 * local user) can write: each test swaps what a path there names, the way another user would,
 * and checks the server neither stalls, nor serves a text it did not write, nor writes a log
 * anywhere but into its own logs/ directory.
 */

const FORGED = "forged by another user";

function forms(value: string): string[] {
  const b = Buffer.from(value);
  return [value, b.toString("base64"), b.toString("base64url"), b.toString("hex")];
}

function assertNoLeak(text: string, value: string, where: string): void {
  for (const f of forms(value)) assert.ok(!text.includes(f), `${where} holds the key`);
}

/** A request that must be answered: a server whose event loop is stuck answers nothing. */
async function answered(s: TestServer, path: string): Promise<Reply> {
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the server did not answer GET ${path}`)), 20_000);
  });
  try {
    return await Promise.race([call(s.socket, "GET", path), stuck]);
  } finally {
    clearTimeout(timer);
  }
}

describe("run logs under a hostile outputs directory", () => {
  const canary = makeCanary("logs");
  let s: TestServer;
  let runId: string;
  let logs: string;

  async function run(): Promise<Record<string, unknown>> {
    return finalRun((await follow(s.socket, "talk")).events);
  }

  /** Puts the real logs/ back, owned by the server and closed to others. */
  function restore(): void {
    rmSync(logs, { recursive: true, force: true });
    renameSync(`${logs}.real`, logs);
    chmodSync(s.outputs, 0o755);
  }

  before(async () => {
    s = await startServer({
      credentials: { api_key: canary },
      config: ({ root, outputs }) => ({
        jobs: {
          talk: {
            argv: ["/bin/sh", "-c", 'echo "the key is $(cat "$CREDENTIALS_DIRECTORY/api_key")"; echo done'],
            cwd: root,
            credentials: ["api_key"],
            outputDir: outputs,
          },
          // Its outputs directory does not exist yet, below a directory the test opens to everyone.
          below: { argv: ["/bin/true"], cwd: root, outputDir: join(root, "open", "outputs") },
        },
      }),
    });
    logs = join(s.outputs, "logs");
    const first = await run();
    assert.equal(first.state, "succeeded");
    runId = first.id as string;
  });
  after(async () => {
    await s.cleanup();
  });

  test("the server's own log is served, scrubbed", async () => {
    const r = await answered(s, `/v1/runs/${runId}/log`);
    assert.equal(r.status, 200);
    assert.equal(r.text, "the key is [REDACTED:api_key]\ndone\n");
  });

  test("a FIFO planted as the log by another user in a swapped logs/ does not stall the server", async () => {
    renameSync(logs, `${logs}.real`);
    chmodSync(s.outputs, 0o777); // the setup that said `chmod o+w outputs`
    try {
      const planted = await asOtherUser(`mkdir ${logs} && mkfifo ${logs}/${runId}.log`);
      assert.equal(planted.code, 0, planted.stderr);
      const r = await answered(s, `/v1/runs/${runId}/log`);
      assert.equal(r.status, 404);
      assert.equal((r.json as { error: { code: string } }).error.code, "LOG_NOT_FOUND");
      assert.equal((await answered(s, "/v1/health")).status, 200);
    } finally {
      restore();
    }
  });

  test("a FIFO in place of the log in the server's own logs/ does not stall it either", async () => {
    const path = join(logs, `${runId}.log`);
    renameSync(path, `${path}.kept`);
    try {
      execFileSync("mkfifo", [path]);
      const r = await answered(s, `/v1/runs/${runId}/log`);
      assert.equal(r.status, 404);
      assert.equal((await answered(s, "/v1/health")).status, 200);
    } finally {
      rmSync(path, { force: true });
      renameSync(`${path}.kept`, path);
    }
  });

  test("a logs/ swapped for a symbolic link is not followed, even to a directory the server owns", async () => {
    const elsewhere = mkdtempSync(join(s.root, "elsewhere-"));
    writeFileSync(join(elsewhere, `${runId}.log`), `${FORGED}\n`);
    renameSync(logs, `${logs}.real`);
    try {
      symlinkSync(elsewhere, logs);
      const r = await answered(s, `/v1/runs/${runId}/log`);
      assert.equal(r.status, 404);
      assert.doesNotMatch(r.text, new RegExp(FORGED));
    } finally {
      restore();
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  test("a logs/ of another user's, or a log file of another user's, is not served", async () => {
    renameSync(logs, `${logs}.real`);
    chmodSync(s.outputs, 0o777);
    try {
      const planted = await asOtherUser(
        `mkdir ${logs} && chmod 755 ${logs} && echo '${FORGED}' > ${logs}/${runId}.log`,
      );
      assert.equal(planted.code, 0, planted.stderr);
      const r = await answered(s, `/v1/runs/${runId}/log`);
      assert.equal(r.status, 404);
      assert.doesNotMatch(r.text, new RegExp(FORGED));
    } finally {
      restore();
    }
    // Inside the server's own logs/ (as only the server itself could have put it there).
    const path = join(logs, `${runId}.log`);
    renameSync(path, `${path}.kept`);
    try {
      writeFileSync(path, `${FORGED}\n`);
      chownSync(path, OTHER_UID, OTHER_UID);
      const r = await answered(s, `/v1/runs/${runId}/log`);
      assert.equal(r.status, 404);
      assert.doesNotMatch(r.text, new RegExp(FORGED));
    } finally {
      rmSync(path, { force: true });
      renameSync(`${path}.kept`, path);
    }
  });

  test("the next run's log is never written through a swapped logs/: not into the server's state, not into another user's directory", async () => {
    const otherDir = mkdtempSync("/dev/shm/keyhold-other-");
    chownSync(otherDir, OTHER_UID, OTHER_UID);
    const stateBefore = readdirSync(s.state, { recursive: true }).length;
    try {
      for (const target of [s.state, otherDir]) {
        renameSync(logs, `${logs}.real`);
        try {
          symlinkSync(target, logs);
          const r = await run();
          assert.equal(r.state, "error");
          const error = r.error as { code: string; message: string };
          assert.equal(error.code, "OUTPUT_FAILED");
          assert.match(error.message, /logs is not a directory \(a symbolic link or a file\)/);
          assert.equal(r.log, null);
        } finally {
          rmSync(logs, { force: true });
          renameSync(`${logs}.real`, logs);
        }
      }
      assert.deepEqual(readdirSync(otherDir), [], "nothing written into the other user's directory");
      assert.ok(
        !readdirSync(s.state, { recursive: true }).some((name) => String(name).endsWith(".log")),
        "no log in the server's state directory",
      );
      assert.ok(readdirSync(s.state, { recursive: true }).length >= stateBefore);

      // A logs/ directory another user made (they could write to outputs/) is not used either.
      renameSync(logs, `${logs}.real`);
      chmodSync(s.outputs, 0o775);
      try {
        mkdirSync(logs, { mode: 0o777 });
        chmodSync(logs, 0o777);
        chownSync(logs, OTHER_UID, OTHER_UID);
        const r = await run();
        assert.equal(r.state, "error");
        assert.match(
          (r.error as { message: string }).message,
          new RegExp(`logs belongs to uid ${OTHER_UID}, not to the job server`),
        );
        assert.deepEqual(readdirSync(logs), []);
      } finally {
        restore();
      }
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  test("an outputs directory every local user may write to is refused; one the group may write to is used", async () => {
    chmodSync(s.outputs, 0o777);
    try {
      const r = await run();
      assert.equal(r.state, "error");
      assert.match(
        (r.error as { message: string }).message,
        /outputs is writable by every local user, who could then redirect the logs/,
      );
    } finally {
      chmodSync(s.outputs, 0o755);
    }
    chmodSync(s.outputs, 0o2775);
    try {
      const r = await run();
      assert.equal(r.state, "succeeded");
      assert.equal(readFileSync(r.log as string, "utf8"), "the key is [REDACTED:api_key]\ndone\n");
      assert.ok(lstatSync(logs).isDirectory());
    } finally {
      chmodSync(s.outputs, 0o755);
    }
  });

  test("a directory on the way that every local user may rename names in is refused before anything is made in it", async () => {
    const open = join(s.root, "open");
    mkdirSync(open);
    chmodSync(open, 0o777); // not sticky: anyone may rename what the server would make here
    try {
      const r = finalRun((await follow(s.socket, "below")).events);
      assert.equal(r.state, "error");
      assert.equal((r.error as { code: string }).code, "OUTPUT_FAILED");
      assert.match((r.error as { message: string }).message, /open is writable by every local user/);
      assert.deepEqual(readdirSync(open), [], "nothing was made in it");
      chmodSync(open, 0o1777); // sticky: names there are their owners' alone
      const ok = finalRun((await follow(s.socket, "below")).events);
      assert.equal(ok.state, "succeeded");
      assert.ok(lstatSync(join(open, "outputs", "logs")).isDirectory());
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });

  test("canary: the key is in no log, record, error or server line", async () => {
    assertNoLeak(everythingUnder(s.outputs), canary, "the outputs");
    assertNoLeak(everythingUnder(s.state), canary, "the state directory");
    assertNoLeak(s.stderr(), canary, "the server's stderr");
    const runs = await call(s.socket, "GET", "/v1/runs");
    assertNoLeak(runs.text, canary, "the run list");
    assert.ok(existsSync(join(logs, `${runId}.log`)));
  });
});

describe("removing logs: the developers ask, the server removes only its own", () => {
  let s: TestServer;

  before(async () => {
    s = await startServer({
      config: ({ root, outputs }) => ({
        jobs: {
          say: { argv: ["/bin/sh", "-c", "echo said"], cwd: root, outputDir: outputs },
          wait: { argv: ["/bin/sleep", "30"], cwd: root, outputDir: outputs },
        },
      }),
    });
  });
  after(async () => {
    await s.cleanup();
  });

  test("keyhold runs --delete-log removes a finished run's log; the record stays and says so", async () => {
    const id = finalRun((await follow(s.socket, "say")).events).id as string;
    const path = join(s.outputs, "logs", `${id}.log`);
    assert.ok(existsSync(path));
    const r = await runCli(["runs", "--delete-log", id, "--socket", s.socket], process.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`removed the log of run ${id} \\(say\\)`));
    assert.ok(!existsSync(path), "the log is gone");
    const record = (await call(s.socket, "GET", `/v1/runs/${id}`)).json as { run: { log: string | null } };
    assert.equal(record.run.log, null);
    const again = await runCli(["runs", "--delete-log", id, "--socket", s.socket], process.env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /LOG_NOT_FOUND/);
  });

  test("the log of a run still running is refused with RUN_ACTIVE and left in place", async () => {
    const started = await call(s.socket, "POST", "/v1/jobs/wait/runs", "{}");
    const id = (started.json as { run: { id: string } }).run.id;
    try {
      const r = await call(s.socket, "DELETE", `/v1/runs/${id}/log`);
      assert.equal(r.status, 409);
      assert.equal((r.json as { error: { code: string } }).error.code, "RUN_ACTIVE");
    } finally {
      await call(s.socket, "DELETE", `/v1/runs/${id}`);
    }
  });

  test("a logs/ swapped for a link to a directory the server owns: nothing there is removed", async () => {
    const id = finalRun((await follow(s.socket, "say")).events).id as string;
    const logs = join(s.outputs, "logs");
    // A directory of the server's own (as its state is) holding a file of the same name.
    const elsewhere = mkdtempSync(join(s.root, "server-own-"));
    const bait = join(elsewhere, `${id}.log`);
    writeFileSync(bait, "the server's own file\n");
    renameSync(logs, `${logs}.real`);
    try {
      symlinkSync(elsewhere, logs);
      const r = await call(s.socket, "DELETE", `/v1/runs/${id}/log`);
      assert.equal(r.status, 404);
      assert.equal((r.json as { error: { code: string } }).error.code, "LOG_NOT_FOUND");
      assert.equal(
        readFileSync(bait, "utf8"),
        "the server's own file\n",
        "the file behind the link survives",
      );
    } finally {
      rmSync(logs, { force: true });
      renameSync(`${logs}.real`, logs);
      rmSync(elsewhere, { recursive: true, force: true });
    }
    assert.ok(existsSync(join(logs, `${id}.log`)), "the real log was not touched either");
  });

  test("a log another user put in a logs/ of their own is not removed", async () => {
    const id = finalRun((await follow(s.socket, "say")).events).id as string;
    const logs = join(s.outputs, "logs");
    renameSync(logs, `${logs}.real`);
    chmodSync(s.outputs, 0o777);
    try {
      const planted = await asOtherUser(`mkdir ${logs} && echo theirs > ${logs}/${id}.log`);
      assert.equal(planted.code, 0, planted.stderr);
      const r = await call(s.socket, "DELETE", `/v1/runs/${id}/log`);
      assert.equal(r.status, 404);
      assert.equal(readFileSync(join(logs, `${id}.log`), "utf8"), "theirs\n");
    } finally {
      rmSync(logs, { recursive: true, force: true });
      renameSync(`${logs}.real`, logs);
      chmodSync(s.outputs, 0o755);
    }
  });
});
