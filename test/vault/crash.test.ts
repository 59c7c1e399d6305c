import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { makeVaultWorld } from "./support.js";

const WORKER = join(import.meta.dirname, "fixtures", "crash-worker.js");

interface Trial {
  acked: number;
  lastLine: string;
}

/** Starts the worker, lets it run for `afterReadyMs` past its first line, then kill -9. */
function runAndKill(
  state: string,
  store: string,
  mode: string,
  trial: number,
  env: NodeJS.ProcessEnv,
  afterReadyMs: number,
): Promise<Trial> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, state, store, mode, String(trial)], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (timer === undefined && out.includes("ready\n"))
        timer = setTimeout(() => child.kill("SIGKILL"), afterReadyMs);
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      if (signal !== "SIGKILL") return reject(new Error(`worker ended on its own: ${err.slice(0, 400)}`));
      const acks = [...out.matchAll(/acked (\d+)/g)].map((m) => Number(m[1]));
      resolve({ acked: acks.at(-1) ?? 0, lastLine: out.split("\n").at(-2) ?? "" });
    });
  });
}

const plans: Array<[mode: string, trials: number]> = [
  ["put", 20],
  ["kek", 12],
  ["master", 12],
  ["dek", 12],
];

test("kill -9 at random points of puts and of DEK, KEK and master rotations loses nothing (56 trials)", async (t) => {
  for (const [mode, trials] of plans) {
    await t.test(`${mode}: ${trials} trials`, async () => {
      const world = await makeVaultWorld(`keyhold-crash-${mode}-`);
      try {
        const vault = await world.init();
        await vault.put("crash/seed", "seed-value");
        vault.close();
        let lastVersions = { master: 1, kek: 1 };
        for (let i = 0; i < trials; i++) {
          const { acked } = await runAndKill(
            world.scratch.state,
            world.scratch.store,
            mode,
            i,
            world.scratch.env,
            Math.floor(Math.random() * 120),
          );
          // The next open completes or rolls back whatever was in flight, and finds every acknowledged change.
          const v = await world.open();
          const report = await v.verify();
          assert.equal(report.ok, true, report.problems.join("; "));
          assert.equal((await v.verifyAudit()).ok, true);
          assert.equal((await v.get("crash/seed")).expose(), "seed-value");
          const keys = mode === "put" ? 7 : mode === "dek" ? 3 : 0;
          for (let k = 0; k < keys; k++) {
            // The newest acknowledged write to key k in this trial, if any: the store holds it or a later one.
            let newest = 0;
            for (let n = 1; n <= acked; n++) if (n % keys === k) newest = n;
            if (newest === 0) continue;
            const value = (await v.get(`crash/key-${k}`)).expose();
            const m = /^value-(\d+)-(\d+)$/.exec(value);
            assert.ok(m, `${mode} trial ${i}: key-${k} holds ${value}`);
            assert.equal(Number(m[1]), i, `${mode} trial ${i}: key-${k} lost this trial's write`);
            assert.ok(
              Number(m[2]) >= newest,
              `${mode} trial ${i}: key-${k} holds ${m[2]} < acknowledged ${newest}`,
            );
          }
          const versions = v.keyVersions();
          if (mode === "kek")
            assert.ok(
              versions.kek >= lastVersions.kek + acked,
              `kek ${versions.kek} < ${lastVersions.kek}+${acked}`,
            );
          if (mode === "master") assert.ok(versions.master >= lastVersions.master + acked);
          lastVersions = { master: versions.master, kek: versions.kek };
          // Whatever the worker wrote (acknowledged or in flight) is whole: every listed secret decrypts.
          for (const s of await v.list())
            assert.match((await v.get(`${s.ns}/${s.name}`)).expose(), /^(value-\d+-\d+|seed-value)$/);
          v.close();
        }
        // No staged master or shred leftovers survive a completed open.
        assert.deepEqual(
          readdirSync(world.scratch.store).filter((f) => f.endsWith(".next")),
          [],
        );
      } finally {
        world.cleanup();
      }
    });
  }
});
