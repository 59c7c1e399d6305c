/**
 * Crash safety under concurrency: keyhold processes writing the same store at once never
 * corrupt it. Four concurrent rotates of one name each get their own version, every version
 * decrypts to the value its rotate was given, and the highest is current; concurrent sets of
 * different names all land; two sets of one name: exactly one wins. The audit log verifies
 * and holds one record per operation.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { firstErrorLine, initWorld, runCli, runCliOk } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";

interface AuditRecordLike {
  op: string;
  name?: string;
  result: string;
  code?: string;
}

async function auditRecords(s: Scratch): Promise<AuditRecordLike[]> {
  const verify = await runCli(["audit", "--verify"], { env: s.env });
  assert.equal(verify.code, 0, `audit --verify: ${verify.stdout}${verify.stderr}`);
  return JSON.parse((await runCliOk(["audit", "--json"], { env: s.env })).stdout) as AuditRecordLike[];
}

async function get(s: Scratch, name: string): Promise<string> {
  return (await runCliOk(["get", name], { env: s.env })).stdout;
}

describe("concurrent writers never corrupt the store", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld("keyhold-concurrent-");
  });
  after(() => s.cleanup());

  for (const writers of [2, 4]) {
    it(`${writers} concurrent rotates of one name: one version each, all decryptable`, async () => {
      const canary = makeCanary(`concurrent-rotate-${writers}`);
      const name = `shared_${writers}`;
      const initial = `${canary}-initial`;
      await runCliOk(["set", name], { env: s.env, input: initial });
      const values = Array.from({ length: writers }, (_, i) => `${canary}-writer-${i}`);
      const results = await Promise.all(
        values.map((v) => runCli(["rotate", name], { env: s.env, input: v })),
      );

      // Each rotate reports the version it wrote.
      const byVersion = new Map<number, string>([[1, initial]]);
      results.forEach((r, i) => {
        assert.equal(r.code, 0, `rotate ${i}: ${r.stderr}`);
        const m = /\(version (\d+),/.exec(r.stdout);
        assert.ok(m, `rotate ${i} printed its version: ${r.stdout}`);
        assert.ok(!byVersion.has(Number(m[1])), `version ${m[1]} given twice`);
        byVersion.set(Number(m[1]), values[i] as string);
      });
      const history = JSON.parse((await runCliOk(["history", name, "--json"], { env: s.env })).stdout) as {
        current: number;
        versions: { version: number }[];
      };
      assert.deepEqual(
        history.versions.map((v) => v.version),
        Array.from({ length: writers + 1 }, (_, i) => i + 1),
        "history lists every version once",
      );
      assert.equal(history.current, writers + 1, "the last writer's version is current");
      assert.equal(await get(s, name), byVersion.get(writers + 1));
      // Every kept version decrypts to the value its writer gave.
      for (const [version, value] of byVersion) {
        await runCliOk(["rollback", name, "--to", String(version)], { env: s.env });
        assert.equal(await get(s, name), value, `version ${version}`);
      }
      const audit = await auditRecords(s);
      assert.equal(
        audit.filter((r) => r.op === "rotate" && r.name === name && r.result === "ok").length,
        writers,
      );
    });
  }

  it("concurrent sets of different names all land", async () => {
    const canary = makeCanary("concurrent-set");
    const names = Array.from({ length: 6 }, (_, i) => `parallel_${i}`);
    const results = await Promise.all(
      names.map((n) => runCli(["set", n], { env: s.env, input: `${canary}-${n}` })),
    );
    for (const [i, r] of results.entries()) assert.equal(r.code, 0, `set ${names[i]}: ${r.stderr}`);
    for (const n of names) assert.equal(await get(s, n), `${canary}-${n}`);
    const ls = JSON.parse((await runCliOk(["ls", "--json"], { env: s.env })).stdout) as {
      name: string;
      status: string;
    }[];
    for (const n of names) assert.equal(ls.find((e) => e.name === n)?.status, "ok", n);
    assert.deepEqual(
      ls.filter((e) => e.status !== "ok").map((e) => `${e.name}: ${e.status}`),
      [],
      "no damaged or leftover entry",
    );
    const audit = await auditRecords(s);
    for (const n of names) {
      assert.equal(audit.filter((r) => r.op === "set" && r.name === n && r.result === "ok").length, 1, n);
    }
  });

  it("two concurrent sets of one name: exactly one wins, the other is refused", async () => {
    const canary = makeCanary("concurrent-same");
    const values = [`${canary}-a`, `${canary}-b`];
    const results = await Promise.all(
      values.map((v) => runCli(["set", "contested"], { env: s.env, input: v })),
    );
    const winners = results.map((r, i) => (r.code === 0 ? i : -1)).filter((i) => i >= 0);
    assert.equal(winners.length, 1, `exactly one set succeeds: ${results.map((r) => r.stderr).join(" | ")}`);
    const loser = results[1 - (winners[0] as number)] as { code: number | null; stderr: string };
    assert.equal(loser.code, 1);
    assert.equal(firstErrorLine(loser.stderr).code, "CREDENTIAL_EXISTS");
    assert.equal(await get(s, "contested"), values[winners[0] as number]);
    const history = JSON.parse(
      (await runCliOk(["history", "contested", "--json"], { env: s.env })).stdout,
    ) as {
      versions: unknown[];
    };
    assert.equal(history.versions.length, 1, "the refused set left no version behind");
    await auditRecords(s);
  });

  it("rotates, sets, gets and rollbacks all at once", async () => {
    const canary = makeCanary("concurrent-mixed");
    await runCliOk(["set", "mixed"], { env: s.env, input: `${canary}-0` });
    await runCliOk(["rotate", "mixed"], { env: s.env, input: `${canary}-1` });
    const jobs = [
      runCli(["rotate", "mixed"], { env: s.env, input: `${canary}-2` }),
      runCli(["rollback", "mixed"], { env: s.env }),
      runCli(["get", "mixed"], { env: s.env }),
      runCli(["set", "mixed_other"], { env: s.env, input: `${canary}-other` }),
      runCli(["rotate", "mixed"], { env: s.env, input: `${canary}-3` }),
      runCli(["run", "mixed", "--", "true"], { env: s.env }),
    ];
    const results = await Promise.all(jobs);
    for (const [i, r] of results.entries()) assert.equal(r.code, 0, `job ${i}: ${r.stderr}`);
    assert.match(results[2]?.stdout ?? "", new RegExp(`^${canary}-[0-3]$`), "get saw one whole value");
    assert.match(await get(s, "mixed"), new RegExp(`^${canary}-[0-3]$`));
    assert.equal(await get(s, "mixed_other"), `${canary}-other`);
    const history = JSON.parse((await runCliOk(["history", "mixed", "--json"], { env: s.env })).stdout) as {
      versions: { version: number }[];
    };
    assert.deepEqual(
      history.versions.map((v) => v.version),
      [1, 2, 3, 4],
    );
    await auditRecords(s);
  });
});
