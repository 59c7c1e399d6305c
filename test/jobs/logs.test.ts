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

  test("canary: the key is in no log, record, error or server line", async () => {
    assertNoLeak(everythingUnder(s.outputs), canary, "the outputs");
    assertNoLeak(everythingUnder(s.state), canary, "the state directory");
    assertNoLeak(s.stderr(), canary, "the server's stderr");
    const runs = await call(s.socket, "GET", "/v1/runs");
    assertNoLeak(runs.text, canary, "the run list");
    assert.ok(existsSync(join(logs, `${runId}.log`)));
  });
});
