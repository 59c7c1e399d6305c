import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { isSecretError } from "../../src/secret/index.js";
import { joinVault, PostgresBackend, systemdCredentialProvider } from "../../src/vault/index.js";
import { startPostgres, type TestPostgres } from "./postgres-server.js";
import { makeVaultWorld, type VaultWorld } from "./support.js";

let server: TestPostgres | string;
before(() => {
  server = startPostgres();
});
after(() => {
  if (typeof server !== "string") server.stop();
});

function connectionFor(s: TestPostgres, store: string) {
  return { config: { host: s.host, port: s.port, user: s.user, database: "postgres" }, store };
}

async function twoHosts(s: TestPostgres, store: string): Promise<[VaultWorld, VaultWorld]> {
  const a = await makeVaultWorld("keyhold-pg-host-a-");
  const b = await makeVaultWorld("keyhold-pg-host-b-");
  const backendA = await PostgresBackend.connect(connectionFor(s, store));
  const vaultA = await a.init({ backend: backendA });
  await vaultA.put("shared/counter", "start");
  // Host B gets its own copy of the master, encrypted with B's own host key.
  const master = await vaultA.exportMaster();
  vaultA.close();
  const backendB = await PostgresBackend.connect(connectionFor(s, store));
  const vaultB = await joinVault({ ...b.options, backend: backendB, master });
  master.dispose();
  assert.equal((await vaultB.get("shared/counter")).expose(), "start");
  vaultB.close();
  await backendA.close();
  await backendB.close();
  return [a, b];
}

test("PostgreSQL backend: operations, rotation and tamper detection on a real server", async (t) => {
  if (typeof server === "string") return t.skip(server);
  const s = server;
  const world = await makeVaultWorld();
  const backend = await PostgresBackend.connect(connectionFor(s, "ops"));
  try {
    const vault = await world.init({ backend });
    await vault.put("weather/api_key", "pg-one");
    await vault.put("weather/api_key", "pg-two");
    assert.equal((await vault.get("weather/api_key", { version: 1 })).expose(), "pg-one");
    await vault.rotateKek();
    await vault.rotateMaster();
    await vault.rotateDek("weather", { rewrite: true });
    assert.equal((await vault.get("weather/api_key")).expose(), "pg-two");
    assert.deepEqual(
      (await vault.list()).map((x) => x.name),
      ["api_key"],
    );
    await vault.delete("weather/api_key");
    await vault.put("weather/api_key", "pg-three");
    vault.close();

    // Storage is untrusted: an edited row is caught on open.
    const client = new pg.Client(connectionFor(s, "ops").config);
    await client.connect();
    await client.query(
      "UPDATE keyhold_vault_records SET value = replace(value, '\"current\":1', '\"current\":2') WHERE store = 'ops' AND key = 'secret/weather/api_key'",
    );
    await client.query("DELETE FROM keyhold_vault_records WHERE store = 'ops' AND key = 'policy'");
    await client.end();
    await assert.rejects(world.open({ backend }), (err: unknown) => isSecretError(err, "VAULT_TAMPERED"));
  } finally {
    await backend.close();
    world.cleanup();
  }
});

test("two hosts with their own master copies write concurrently and never lose an update", async (t) => {
  if (typeof server === "string") return t.skip(server);
  const s = server;
  const [a, b] = await twoHosts(s, "shared");
  try {
    const worker = join(import.meta.dirname, "fixtures", "pg-worker.js");
    const count = 25;
    const run = (w: VaultWorld, label: string) =>
      new Promise<number[]>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [worker, w.scratch.state, w.scratch.store, s.host, String(s.port), String(count), label],
          { env: w.scratch.env, stdio: ["ignore", "pipe", "pipe"] },
        );
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d;
        });
        child.stderr.on("data", (d: Buffer) => {
          err += d;
        });
        child.on("exit", (code) =>
          code === 0 ? resolve(JSON.parse(out)) : reject(new Error(err.slice(-500))),
        );
      });
    const [va, vb] = await Promise.all([run(a, "a"), run(b, "b")]);
    const all = [...va, ...vb].sort((x, y) => x - y);
    // Version 1 was "start"; the 50 puts got 2..51, each exactly once.
    assert.deepEqual(
      all,
      Array.from({ length: 2 * count }, (_, i) => i + 2),
    );

    const backend = await PostgresBackend.connect(connectionFor(s, "shared"));
    const vault = await a.open({ backend });
    assert.equal((await vault.versions("shared/counter")).at(-1)?.version, 2 * count + 1);
    assert.equal((await vault.get("host-a/own")).expose(), `a-${count - 1}`);
    assert.equal((await vault.get("host-b/own")).expose(), `b-${count - 1}`);
    assert.equal((await vault.verify()).ok, true);
    vault.close();
    await backend.close();

    // Host B's master credential cannot be decrypted with host A's key: each host holds its own copy.
    const providerA = systemdCredentialProvider({
      dir: b.scratch.store,
      env: a.scratch.env,
      withKey: "host",
    });
    const backend2 = await PostgresBackend.connect(connectionFor(s, "shared"));
    await assert.rejects(a.open({ backend: backend2, provider: providerA }));
    await backend2.close();
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

test("kill -9 during puts on PostgreSQL loses no acknowledged version (10 trials)", async (t) => {
  if (typeof server === "string") return t.skip(server);
  const s = server;
  const world = await makeVaultWorld("keyhold-pg-crash-");
  const backend = await PostgresBackend.connect(connectionFor(s, "crash"));
  try {
    const vault = await world.init({ backend });
    await vault.put("shared/counter", "start");
    vault.close();
    const worker = join(import.meta.dirname, "fixtures", "pg-worker.js");
    for (let trial = 0; trial < 10; trial++) {
      const acked = await new Promise<number>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            worker,
            world.scratch.state,
            world.scratch.store,
            s.host,
            String(s.port),
            "100000",
            `t${trial}`,
            "crash",
          ],
          { env: world.scratch.env, stdio: ["ignore", "ignore", "pipe"] },
        );
        let err = "";
        let timer: NodeJS.Timeout | undefined;
        child.stderr.on("data", (d: Buffer) => {
          err += d;
          if (timer === undefined && err.includes("acked"))
            timer = setTimeout(() => child.kill("SIGKILL"), Math.random() * 150);
        });
        child.on("exit", (_code, signal) => {
          if (signal !== "SIGKILL") return reject(new Error(err.slice(-400)));
          resolve(Math.max(0, ...[...err.matchAll(/acked (\d+)/g)].map((m) => Number(m[1]))));
        });
      });
      const v = await world.open({ backend });
      const report = await v.verify();
      assert.equal(report.ok, true, report.problems.join("; "));
      const newest = (await v.versions("shared/counter")).at(-1)?.version ?? 0;
      assert.ok(newest >= acked, `trial ${trial}: newest version ${newest} < acknowledged ${acked}`);
      assert.match((await v.get("shared/counter")).expose(), new RegExp(`^t${trial}-\\d+$`));
      v.close();
    }
  } finally {
    await backend.close();
    world.cleanup();
  }
});
