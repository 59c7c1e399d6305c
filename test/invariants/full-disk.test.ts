/**
 * Crash safety, the other half: a full disk at any point loses nothing. The store and the
 * state directory live on a small tmpfs of their own; before each write the test fills it so
 * that only k pages (or k inodes) are left, for k from none to enough, so the disk runs out at
 * each step of `rotate` and `set` in turn. Every failure is a coded error (never INTERNAL) that
 * leaves the store and state exactly as they were; every success stored the new value whole.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { firstErrorLine, runCli, runCliOk } from "../support/cli.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";
import { diffSnapshots, encodingsOf, grepTree, snapshotTree } from "../support/tree.js";

const FILLER = "filler";
const skipFillerAndAudit = (rel: string) =>
  rel === FILLER ||
  rel.startsWith(`${FILLER}/`) ||
  rel === "state/audit.log" ||
  rel === "state/audit.log.head" ||
  rel === "state/keyhold.audit-anchor";

/** Leaves `pages` free blocks on the file system at `dir`. */
function leavePages(dir: string, pages: number): void {
  const st = statfsSync(dir);
  const bytes = Math.max(0, (st.bavail - pages) * st.bsize);
  writeFileSync(join(dir, FILLER), Buffer.alloc(bytes));
}

/** Leaves `inodes` free inodes on the file system at `dir` (empty files take the rest). */
function leaveInodes(dir: string, inodes: number): void {
  mkdirSync(join(dir, FILLER));
  const free = statfsSync(dir).ffree;
  for (let i = 0; i < free - inodes; i++) closeSync(openSync(join(dir, FILLER, String(i)), "w"));
}

function clearFiller(dir: string): void {
  rmSync(join(dir, FILLER), { recursive: true, force: true });
}

describe("a full disk loses nothing", () => {
  let s: Scratch;
  let fs: string;
  let env: NodeJS.ProcessEnv;
  let mounted = false;
  /** Files a refused write added to the state directory (its error says nothing was changed). */
  const strays: string[] = [];

  before(() => {
    s = makeScratch("keyhold-full-");
    fs = join(s.root, "fs");
    mkdirSync(fs, { mode: 0o700 });
    // The host key stays on the scratch directory; only the store and state are on the small disk.
    mounted =
      spawnSync("mount", ["-t", "tmpfs", "-o", "size=512k,nr_inodes=400,mode=0700", "tmpfs", fs], {
        stdio: "ignore",
      }).status === 0;
    env = { ...s.env, KEYHOLD_STORE: join(fs, "store"), KEYHOLD_STATE: join(fs, "state") };
  });
  after(() => {
    if (mounted) spawnSync("umount", [fs], { stdio: "ignore" });
    s.cleanup();
  });

  /**
   * Runs `args` with the disk made nearly full by `fill(k)` for k = 0..max; checks that each
   * failure changed nothing and each success stored `value(k)`.
   */
  async function sweep(
    fill: (k: number) => void,
    max: number,
    step: (k: number) => { args: string[]; value: string; name: string },
  ): Promise<{ failed: number; stored: number; codes: Set<string> }> {
    const result = { failed: 0, stored: 0, codes: new Set<string>() };
    for (let k = 0; k <= max; k++) {
      const { args, value, name } = step(k);
      const before = snapshotTree(fs, skipFillerAndAudit);
      const previous = await runCli(["get", name], { env });
      fill(k);
      let r: Awaited<ReturnType<typeof runCli>>;
      try {
        r = await runCli(args, { env, input: value });
      } finally {
        clearFiller(fs);
      }
      for (const form of encodingsOf(value)) assert.ok(!r.stderr.includes(form) && !r.stdout.includes(form));
      if (r.code === 0) {
        result.stored++;
        assert.equal(
          (await runCliOk(["get", name], { env })).stdout,
          value,
          `k=${k}: stored, but get differs`,
        );
        continue;
      }
      result.failed++;
      const { code } = firstErrorLine(r.stderr);
      result.codes.add(code);
      assert.notEqual(code, "INTERNAL", `k=${k}: ${r.stderr.trim()}`);
      // What matters: nothing in the store and nothing already in the state directory changed.
      // Files added to the state directory are collected for the stray-file check below.
      const diffs = diffSnapshots(before, snapshotTree(fs, skipFillerAndAudit)).map(
        (d) => `${args.join(" ")} k=${k}: ${d}`,
      );
      const added = diffs.filter((d) => /: added state\//.test(d));
      const harmful = diffs.filter((d) => !added.includes(d));
      assert.deepEqual(
        harmful,
        [],
        `k=${k}: a failed ${args[0]} (${r.stderr.trim()}) changed the store or existing state`,
      );
      strays.push(...added);
      const now = await runCli(["get", name], { env });
      assert.equal(
        now.code,
        previous.code,
        `k=${k}: get ${name} changed from exit ${previous.code} to ${now.code}: ${now.stderr}`,
      );
      assert.equal(now.stdout, previous.stdout, `k=${k}: the value changed`);
    }
    return result;
  }

  // keyhold refuses to start an operation with less than 128 KiB or 32 inodes free (so the
  // operation and its audit record always fit); the sweeps cross that line from both sides.
  const MAX_PAGES = 40;
  const MAX_INODES = 40;

  it(`rotate with k pages left, k = 0..${MAX_PAGES}`, async (t) => {
    if (!mounted) return t.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)");
    await runCliOk(["init"], { env });
    const canary = makeCanary("full-rotate");
    await runCliOk(["set", "api_key"], { env, input: `${canary}-first` });
    const r = await sweep(
      (k) => leavePages(fs, k),
      MAX_PAGES,
      (k) => ({ args: ["rotate", "api_key"], value: `${canary}-${k}`, name: "api_key" }),
    );
    t.diagnostic(`${r.failed} refused (${[...r.codes].join(", ")}), ${r.stored} stored`);
    assert.ok(r.failed > 0, "the disk did run out");
    assert.ok(r.stored > 0, "and with room enough the rotate worked");
  });

  it(`set of new names with k pages left, k = 0..${MAX_PAGES}`, async (t) => {
    if (!mounted) return t.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)");
    const canary = makeCanary("full-set");
    const r = await sweep(
      (k) => leavePages(fs, k),
      MAX_PAGES,
      (k) => ({ args: ["set", `page_${k}`], value: `${canary}-${k}`, name: `page_${k}` }),
    );
    t.diagnostic(`${r.failed} refused (${[...r.codes].join(", ")}), ${r.stored} stored`);
    assert.ok(r.failed > 0 && r.stored > 0);
  });

  it(`rotate with k inodes left, k = 0..${MAX_INODES}`, async (t) => {
    if (!mounted) return t.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)");
    const canary = makeCanary("full-inodes");
    const r = await sweep(
      (k) => leaveInodes(fs, k),
      MAX_INODES,
      (k) => ({ args: ["rotate", "api_key"], value: `${canary}-${k}`, name: "api_key" }),
    );
    t.diagnostic(`${r.failed} refused (${[...r.codes].join(", ")}), ${r.stored} stored`);
    assert.ok(r.failed > 0 && r.stored > 0);
  });

  it("afterwards: every credential is whole, no temporary file is left, the audit log verifies", async (t) => {
    if (!mounted) return t.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)");
    const ls = JSON.parse((await runCliOk(["ls", "--json"], { env })).stdout) as {
      name: string;
      status: string;
    }[];
    assert.deepEqual(
      ls.filter((e) => e.status !== "ok").map((e) => `${e.name}: ${e.status}`),
      [],
    );
    const names = ls.map((e) => e.name);
    await runCliOk(["run", names.join(","), "--", "true"], { env });
    const verify = await runCli(["audit", "--verify"], { env });
    assert.equal(verify.code, 0, `audit --verify: ${verify.stdout}${verify.stderr}`);
    assert.deepEqual(
      grepTree([fs], [Buffer.from("kh-full-")]).map((h) => h.path),
      [],
      "plaintext on the small disk",
    );
  });

  it("a write refused for lack of space leaves no stray file behind (its error says nothing was changed)", (t) => {
    if (!mounted) return t.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)");
    assert.deepEqual(strays, []);
  });
});
