import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { call, finalRun, follow, startServer } from "./support.js";

const CLIENTS = 20;
const TRIGGERS = 1000;

test(`${TRIGGERS} triggers of a no-op job from ${CLIENTS} concurrent clients: none lost, every run recorded`, async () => {
  const s = await startServer({
    config: ({ root, outputs }) => ({
      concurrency: 4,
      queueLimit: 1000,
      jobs: { noop: { argv: ["/bin/true"], cwd: root, outputDir: outputs } },
    }),
  });
  try {
    const ids: string[] = [];
    const failures: string[] = [];
    let next = 0;
    const client = async () => {
      while (next < TRIGGERS) {
        next++;
        try {
          const { events, status } = await follow(s.socket, "noop");
          if (status !== 200) {
            failures.push(`status ${status}`);
            continue;
          }
          const run = finalRun(events);
          if (run.state !== "succeeded") failures.push(`state ${String(run.state)}`);
          ids.push(run.id as string);
        } catch (err) {
          failures.push(err instanceof Error ? err.message : "error");
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    assert.deepEqual(failures, []);
    assert.equal(ids.length, TRIGGERS);
    assert.equal(new Set(ids).size, TRIGGERS, "every run has its own id");
    const listed = (await call(s.socket, "GET", "/v1/runs?limit=1000")).json as {
      runs: { id: string; state: string }[];
    };
    assert.equal(listed.runs.length, TRIGGERS);
    assert.deepEqual(new Set(listed.runs.map((r) => r.id)), new Set(ids));
    assert.ok(listed.runs.every((r) => r.state === "succeeded"));
    const onDisk = readdirSync(join(s.state, "runs")).filter((f) => f.endsWith(".json"));
    assert.equal(onDisk.length, TRIGGERS);
    const health = (await call(s.socket, "GET", "/v1/health")).json as { running: number; queued: number };
    assert.deepEqual([health.running, health.queued], [0, 0]);
  } finally {
    await s.cleanup();
  }
});
