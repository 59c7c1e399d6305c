import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli, startServer, type TestServer } from "./support.js";

/**
 * What `keyhold trigger` tells a user when it cannot run a job: the jobs that exist when the
 * name is wrong, and where to look when the socket answers but the server behind it does not
 * start (systemd resets the connections it accepted for a service that failed).
 */
describe("keyhold trigger: a job name that does not exist", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({
      config: ({ root, outputs }) => ({
        jobs: {
          report: { argv: ["/bin/true"], cwd: root, outputDir: outputs },
          backup: { argv: ["/bin/true"], cwd: root, outputDir: outputs },
        },
      }),
    });
  });
  after(async () => {
    await s.stop();
    await s.cleanup();
  });

  for (const follow of [[], ["--follow"]]) {
    it(`lists the jobs the server has${follow.length ? " (--follow)" : ""}`, async () => {
      const r = await runCli(["trigger", "nosuchjob", ...follow, "--socket", s.socket], {
        PATH: "/usr/bin:/bin",
      });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /no job named "nosuchjob"/);
      assert.match(r.stderr, /^keyhold: hint: jobs on this server: (report, backup|backup, report)$/m);
    });
  }
});

describe("keyhold trigger: a socket whose server does not start", () => {
  let dir: string;
  let close: () => void;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "keyhold-reset-"));
    // What systemd does with the connections of a service that failed to start: closes them unanswered.
    const server = createServer((conn) => conn.destroy());
    await new Promise<void>((resolve) => server.listen(join(dir, "jobs.sock"), resolve));
    close = () => server.close();
  });
  after(() => {
    close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const follow of [[], ["--follow"]]) {
    it(`names journalctl and reset-failed${follow.length ? " (--follow)" : ""}`, async () => {
      const r = await runCli(["trigger", "report", ...follow, "--socket", join(dir, "jobs.sock")], {
        PATH: "/usr/bin:/bin",
      });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /\[SERVER_UNREACHABLE\]/);
      assert.match(r.stderr, /journalctl -u keyhold-jobs/);
      assert.match(r.stderr, /systemctl reset-failed/);
    });
  }
});
