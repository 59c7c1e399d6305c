import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { type CliResult, runCli } from "../support/cli.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";
import { startPostgres, type TestPostgres } from "./postgres-server.js";

/**
 * Hosts sharing a PostgreSQL vault, driven through the real `keyhold` CLI: each host has its own
 * state directory, its own host key and its own copy of the master credential (init --join), as
 * on separate machines. The database administrator is the attacker: plain SQL on the records
 * table, never a key. docs/vault.md "Hosts sharing a PostgreSQL store".
 */

let server: TestPostgres | string;
before(() => {
  server = startPostgres();
});
after(() => {
  if (typeof server !== "string") server.stop();
});

interface Host {
  scratch: Scratch;
  run(args: string[], input?: string): Promise<CliResult>;
  ok(args: string[], input?: string): Promise<CliResult>;
}

function host(label: string): Host {
  const scratch = makeScratch(`keyhold-host-${label}-`);
  const run = (args: string[], input?: string) =>
    runCli(["vault", ...args], { env: scratch.env, ...(input === undefined ? {} : { input }) });
  return {
    scratch,
    run,
    async ok(args, input) {
      const r = await run(args, input);
      assert.equal(r.code, 0, `host ${label}: keyhold vault ${args.join(" ")}: ${r.stderr}${r.stdout}`);
      return r;
    },
  };
}

function pgArgs(s: TestPostgres, store: string): string[] {
  return [
    "--backend",
    "postgres",
    "--pg-host",
    s.host,
    "--pg-port",
    String(s.port),
    "--pg-database",
    "postgres",
    "--pg-user",
    "postgres",
    "--pg-store",
    store,
  ];
}

/** What the database administrator does: plain SQL, no key. */
async function sql(s: TestPostgres, text: string): Promise<void> {
  const client = new pg.Client({ host: s.host, port: s.port, user: s.user, database: "postgres" });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const snapshot = (s: TestPostgres, store: string, copy: string) =>
  sql(s, `CREATE TABLE ${copy} AS SELECT * FROM keyhold_vault_records WHERE store = '${store}'`);
const restore = (s: TestPostgres, store: string, copy: string) =>
  sql(
    s,
    `BEGIN; DELETE FROM keyhold_vault_records WHERE store = '${store}'; ` +
      `INSERT INTO keyhold_vault_records SELECT * FROM ${copy}; COMMIT`,
  );

/** Host A creates the store and puts a secret; host B joins with A's exported master. */
async function twoHosts(s: TestPostgres, store: string): Promise<[Host, Host]> {
  const a = host("a");
  const b = host("b");
  await a.ok(["init", ...pgArgs(s, store)]);
  await a.ok(["put", "app/key"], makeCanary("pg-fork"));
  const master = await a.ok(["export-master"]);
  await b.ok(["init", "--join", ...pgArgs(s, store)], master.stdout);
  return [a, b];
}

test("a database administrator who restores an older copy of the table cannot undo a revoke unnoticed", async (t) => {
  if (typeof server === "string") return t.skip(server);
  const s = server;
  const [a, b] = await twoHosts(s, "fork");
  try {
    const manifest = join(a.scratch.root, "plugin1.json");
    writeFileSync(
      manifest,
      JSON.stringify({ plugin: "plugin1", needs: [{ ns: "app", name: "key", ops: ["read"] }] }),
    );
    await a.ok(["policy", "load", manifest]);
    await a.ok(["grant", "plugin1", "app/key", "--ops", "read"]);
    assert.match((await b.ok(["policy"])).stdout, /granted app\/key read/);

    await snapshot(s, "fork", "fork_copy");
    await a.ok(["revoke", "plugin1", "app/key"]);
    assert.doesNotMatch((await a.ok(["policy"])).stdout, /granted/);
    await restore(s, "fork", "fork_copy");
    // B never saw the revoke: to B the restored table is simply the store it knew. It writes.
    await b.ok(["put", "other/thing"], "unrelated");

    // A saw the revoke: the store's history no longer holds the head A saw after it.
    const verify = await a.run(["verify"]);
    assert.equal(verify.code, 3, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /^problem: .*\[VAULT_FORKED\]$/m);
    const policy = await a.run(["policy"]);
    assert.equal(policy.code, 1, policy.stdout);
    assert.match(policy.stderr, /\[VAULT_FORKED\]/);
    assert.doesNotMatch(policy.stdout, /plugin1/, "the undone revoke is never shown as policy");
    const json = await a.run(["verify", "--json"]);
    assert.equal(json.code, 3);
    assert.equal(JSON.parse(json.stdout).ok, false);
    // B's own view is consistent: it saw no history that the store lacks.
    assert.equal((await b.ok(["verify"])).stdout, "vault verified\n");
  } finally {
    a.scratch.cleanup();
    b.scratch.cleanup();
  }
});

test("a plain rollback of the whole table is refused by every host that saw newer generations", async (t) => {
  if (typeof server === "string") return t.skip(server);
  const s = server;
  const [a, b] = await twoHosts(s, "rollback");
  try {
    await b.ok(["verify"]);
    await snapshot(s, "rollback", "rollback_copy");
    await a.ok(["put", "app/key"], "second");
    await a.ok(["put", "app/key"], "third");
    await restore(s, "rollback", "rollback_copy");

    const refused = await a.run(["get", "app/key"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\[VAULT_ROLLBACK\]/);
    const verify = await a.run(["verify"]);
    assert.equal(verify.code, 3);
    assert.match(verify.stdout, /\[VAULT_ROLLBACK\]/);

    // B last saw the copy's own generation, so nothing tells it the copy is old (docs/vault.md
    // says so); once it writes, the table's history has forked from what A saw, at any distance.
    for (const n of [1, 2, 3]) await b.ok(["put", "other/thing"], `b-${n}`);
    const forked = await a.run(["verify"]);
    assert.equal(forked.code, 3, forked.stdout);
    assert.match(forked.stdout, /\[VAULT_FORKED\]/);
    assert.equal((await a.run(["get", "app/key"])).code, 1);
  } finally {
    a.scratch.cleanup();
    b.scratch.cleanup();
  }
});

test("a host that has never seen the store says so; forgetting it is visible, not silent", async (t) => {
  if (typeof server === "string") return t.skip(server);
  const s = server;
  const [a, b] = await twoHosts(s, "sight");
  try {
    assert.equal((await a.ok(["verify"])).stdout, "vault verified\n");
    const seen = readdirSync(b.scratch.state).filter((f) => f.endsWith(".seen"));
    assert.equal(seen.length, 1);
    rmSync(join(b.scratch.state, seen[0] as string));
    const first = await b.ok(["verify"]);
    assert.match(
      first.stdout,
      /^vault verified \(first sight: this host had not seen this store; it now remembers generation \d+\)\n$/,
    );
    assert.equal((await b.ok(["verify"])).stdout, "vault verified\n");
    assert.equal(JSON.parse((await a.ok(["verify", "--json"])).stdout).firstSight, false);
    rmSync(join(b.scratch.state, seen[0] as string));
    assert.deepEqual(JSON.parse((await b.ok(["verify", "--json"])).stdout), {
      ok: true,
      problems: [],
      firstSight: true,
    });
    const audit = JSON.parse((await b.ok(["audit", "--json"])).stdout) as Array<{ op: string }>;
    assert.equal(audit.filter((r) => r.op === "vault.first-sight").length, 3, "join and both first sights");
  } finally {
    a.scratch.cleanup();
    b.scratch.cleanup();
  }
});

test("each host's audit verification checks its own log against its own seal", async (t) => {
  if (typeof server === "string") return t.skip(server);
  const s = server;
  const [a, b] = await twoHosts(s, "audit");
  try {
    await a.ok(["put", "app/a"], "from a");
    await b.ok(["put", "app/b"], "from b");
    // B wrote last; A's log is whole, so A has nothing to report (and neither has B).
    assert.equal((await a.ok(["audit", "verify"])).stdout, "vault and audit log verified\n");
    assert.equal((await b.ok(["audit", "verify"])).stdout, "vault and audit log verified\n");
    await a.ok(["put", "app/a"], "from a again");
    assert.equal((await b.ok(["audit", "verify"])).stdout, "vault and audit log verified\n");
    assert.equal((await a.ok(["audit", "verify"])).stdout, "vault and audit log verified\n");

    // A real truncation of A's log, back before the record A sealed at its last commit.
    const records = (await a.ok(["audit", "--json"])).stdout;
    const lastPut = (JSON.parse(records) as Array<{ seq: number; op: string }>)
      .filter((r) => r.op === "vault.put")
      .at(-1);
    assert.ok(lastPut);
    const logPath = join(a.scratch.state, "audit.log");
    const lines = readFileSync(logPath, "utf8").split("\n").filter(Boolean);
    writeFileSync(logPath, `${lines.slice(0, lastPut.seq - 2).join("\n")}\n`);
    const cut = await a.run(["audit", "verify"]);
    assert.equal(cut.code, 3, cut.stdout + cut.stderr);
    assert.match(cut.stdout, /which the vault sealed for this host: it was truncated/);
    // B's log was not touched: B still has nothing to report.
    assert.equal((await b.ok(["audit", "verify"])).stdout, "vault and audit log verified\n");
  } finally {
    a.scratch.cleanup();
    b.scratch.cleanup();
  }
});
