/**
 * Vault benchmarks (issue 4), side by side in one run: warm get against `dotenvx get` on an
 * encrypted .env, opening a 10,000-secret store, KEK rotation (rewrap only) against re-sealing
 * every value, and put throughput on the file and PostgreSQL backends.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createAuditKey, openStateAuditLog } from "../src/audit/index.js";
import { Secret } from "../src/secret/index.js";
import {
  FileBackend,
  initVault,
  openVault,
  PostgresBackend,
  systemdCredentialProvider,
  type VaultBackend,
  type VaultOptions,
} from "../src/vault/index.js";
import { makeScratch } from "../test/support/scratch.js";
import { startPostgres } from "../test/vault/postgres-server.js";
import {
  formatMs,
  loadNow,
  medianMs,
  nodeScript,
  pairedMedianMs,
  printComparison,
  printEnvironment,
  printHeader,
  runProcess,
} from "./measure.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const keyhold = join(root, "bin", "keyhold.js");
// dotenvx is started as Node.js on its own script, as keyhold is: never through npm's bin link.
const dotenvx = nodeScript(join(root, "node_modules", ".bin", "dotenvx"));
/** dotenvx with these arguments in `cwd`, with the same environment keyhold gets. */
const dotenvxRun = (args: string[], cwd: string, env: NodeJS.ProcessEnv) =>
  spawnSync(dotenvx[0] as string, [...dotenvx.slice(1), ...args], { cwd, env, encoding: "utf8" });

const scratch = makeScratch("keyhold-bench-vault-");
try {
  mkdirSync(scratch.store, { recursive: true, mode: 0o700 });
  mkdirSync(scratch.state, { recursive: true, mode: 0o700 });
  await createAuditKey(scratch.state, { env: scratch.env });
  const audit = await openStateAuditLog(scratch.state, { env: scratch.env });
  const provider = systemdCredentialProvider({ dir: scratch.store, env: scratch.env, withKey: "host" });
  const options = (backend: VaultBackend, stateDir = scratch.state): VaultOptions => ({
    backend,
    provider,
    stateDir,
    audit,
  });

  printEnvironment(scratch.env);
  printHeader(`Vault (issue 4, ${new Date().toISOString().slice(0, 10)}, ${process.version})`);

  // 1. get, warm: the library with its store open, against dotenvx decrypting an encrypted .env.
  const value = "sk-bench-0123456789abcdefghijklmnopqrstuvwxyz";
  // Made through the CLI, so `keyhold vault get` below finds its configuration.
  const cli = (args: string[], input = "") => {
    const r = spawnSync(process.execPath, [keyhold, "vault", ...args], {
      env: scratch.env,
      input,
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`keyhold vault ${args[0]} failed: ${r.stderr}`);
  };
  cli(["init", "--with-key", "host"]);
  cli(["put", "bench/api_key"], value);
  const small = await openVault(options(new FileBackend({ dir: join(scratch.state, "vault") })));
  const unaudited = await openVault({
    ...options(new FileBackend({ dir: join(scratch.state, "vault") })),
    audit: undefined,
  });
  const envDir = join(scratch.root, "dotenvx");
  mkdirSync(envDir);
  writeFileSync(join(envDir, ".env"), `API_KEY=${value}\n`);
  const enc = dotenvxRun(["encrypt", "-f", ".env"], envDir, scratch.env);
  if (enc.status !== 0) throw new Error(`dotenvx encrypt failed: ${enc.stderr}`);
  const dotenvxGet = () => {
    const r = dotenvxRun(["get", "API_KEY", "-f", ".env"], envDir, scratch.env);
    if (r.stdout.trim() !== value) throw new Error("dotenvx returned another value");
  };
  const [warmGet, peerGet] = await pairedMedianMs(
    async () => (await small.get("bench/api_key")).dispose(),
    dotenvxGet,
    15,
  );
  printComparison({
    what: "get one secret, warm (audited)",
    how: "in-process vs a process it starts",
    ours: "vault.get()",
    oursMs: warmGet,
    peer: "dotenvx get (encrypted .env), a whole process",
    peerMs: peerGet,
    goal: "≥ 10× faster",
    met: peerGet / warmGet >= 10,
  });
  const quietGet = await medianMs(async () => (await unaudited.get("bench/api_key")).dispose(), 200, 10);
  printComparison({
    what: "get one secret, warm, no audit log attached",
    how: "in-process vs a process it starts",
    ours: "vault.get()",
    oursMs: quietGet,
    peer: "dotenvx get (encrypted .env), a whole process",
    peerMs: peerGet,
    goal: "≥ 10× faster",
    met: peerGet / quietGet >= 10,
  });
  unaudited.close();
  const [cliGet, peerCliGet] = await pairedMedianMs(
    () => runProcess([process.execPath, keyhold, "vault", "get", "bench/api_key"], scratch.env),
    dotenvxGet,
    11,
    1,
  );
  printComparison({
    what: "get one secret, a whole process each",
    how: "whole processes",
    ours: "`node bin/keyhold.js vault get`",
    oursMs: cliGet,
    peer: "`node dotenvx.js get` (encrypted .env)",
    peerMs: peerCliGet,
    goal: "≤ 0.25×",
    met: cliGet / peerCliGet <= 0.25,
  });
  const vaultGet = [process.execPath, keyhold, "vault", "get", "bench/api_key"];
  const [cachedGet, uncachedGet] = await pairedMedianMs(
    () => runProcess(vaultGet, scratch.env),
    () => runProcess(vaultGet, { ...scratch.env, KEYHOLD_CODE_CACHE: "off" }),
    11,
    1,
  );
  printComparison({
    what: "what the code cache saves (bin/keyhold.js, scripts/code-cache.mjs)",
    how: "whole processes",
    ours: "`node bin/keyhold.js vault get`",
    oursMs: cachedGet,
    peer: "the same with KEYHOLD_CODE_CACHE=off (the split bundle)",
    peerMs: uncachedGet,
    goal: "—",
    met: undefined,
  });
  small.close();

  // 2. A 10,000-secret store: open (master decrypt + full integrity check) and get one.
  const bigState = join(scratch.root, "big-state");
  mkdirSync(bigState, { mode: 0o700 });
  const bigProvider = systemdCredentialProvider({
    dir: scratch.store,
    env: scratch.env,
    withKey: "host",
    name: "keyhold-vault-master-big",
  });
  const bigOptions: VaultOptions = {
    backend: new FileBackend({ dir: join(bigState, "vault") }),
    provider: bigProvider,
    stateDir: bigState,
    audit,
  };
  const big = await initVault(bigOptions);
  const entries = Array.from({ length: 10_000 }, (_, i) => ({
    ref: `ns${i % 100}/key_${i}`,
    value: Secret.fromString(`value-${i}-${"x".repeat(32)}`),
  }));
  await big.importValues(entries, "bench");
  big.close();
  const peerDir = join(scratch.root, "dotenvx-100");
  mkdirSync(peerDir);
  writeFileSync(
    join(peerDir, ".env"),
    Array.from({ length: 100 }, (_, i) => `KEY_${i}=value-${i}-${"x".repeat(32)}`).join("\n"),
  );
  if (dotenvxRun(["encrypt", "-f", ".env"], peerDir, scratch.env).status !== 0)
    throw new Error("dotenvx encrypt failed");
  const openGet = async () => {
    const v = await openVault(bigOptions);
    (await v.get("ns42/key_5042")).dispose();
    v.close();
  };
  const [bigOpen, peerBig] = await pairedMedianMs(
    openGet,
    () => {
      if (dotenvxRun(["get", "KEY_42", "-f", ".env"], peerDir, scratch.env).status !== 0)
        throw new Error("dotenvx get failed");
    },
    5,
    1,
  );
  printComparison({
    what: "open a 10,000-secret store and get one",
    how: "in-process vs a process it starts",
    ours: "openVault + get",
    oursMs: bigOpen,
    peer: "dotenvx get, 100-entry encrypted .env",
    peerMs: peerBig,
    goal: "faster (the peer holds 100× fewer)",
    met: bigOpen < peerBig,
  });

  // 3. KEK rotation over the 10,000-secret store (100 namespaces): rewrap only, against
  // re-sealing every value (what a flat design must do).
  const rotating = await openVault(bigOptions);
  const kekMs = await medianMs(() => rotating.rotateKek(), 7, 1);
  const resealMs = await medianMs(() => rotating.rotateDek(undefined, { rewrite: true }), 3, 0);
  printComparison({
    what: "KEK rotation, 10,000 secrets",
    how: "in-process",
    ours: "rotateKek (rewrap 100 DEKs)",
    oursMs: kekMs,
    peer: "re-seal all 10,000 values",
    peerMs: resealMs,
    goal: "≤ 100 ms",
    met: kekMs <= 100,
  });
  rotating.close();

  // 4. Put throughput: file backend and PostgreSQL, a sequence of audited puts.
  const puts = 100;
  const fileVault = await openVault(options(new FileBackend({ dir: join(scratch.state, "vault") })));
  let t = process.hrtime.bigint();
  for (let i = 0; i < puts; i++) await fileVault.put(`bench/put_${i % 10}`, `value-${i}`);
  const fileMs = Number(process.hrtime.bigint() - t) / 1e6 / puts;
  fileVault.close();
  const setEnv = () => {
    if (
      dotenvxRun(["set", "PUT_KEY", `value-${Math.random()}`, "-f", ".env"], envDir, scratch.env).status !== 0
    )
      throw new Error("dotenvx set failed");
  };
  const peerSet = await medianMs(setEnv, 5, 1);
  printComparison({
    what: "put, file backend (per op, audited, fsync + shred)",
    how: "in-process vs a process it starts",
    ours: `vault.put ×${puts}`,
    oursMs: fileMs,
    peer: "dotenvx set (encrypted .env)",
    peerMs: peerSet,
    goal: "faster per put",
    met: fileMs < peerSet,
  });
  const server = startPostgres();
  if (typeof server === "string") {
    console.log(`| put, PostgreSQL backend | | not measured: ${server} | | | | not met |`);
  } else {
    try {
      const pgState = join(scratch.root, "pg-state");
      mkdirSync(pgState, { mode: 0o700 });
      const backend = await PostgresBackend.connect({
        config: { host: server.host, port: server.port, user: server.user, database: "postgres" },
      });
      const pgVault = await initVault({
        backend,
        provider: systemdCredentialProvider({
          dir: scratch.store,
          env: scratch.env,
          withKey: "host",
          name: "keyhold-vault-master-pg",
        }),
        stateDir: pgState,
        audit,
      });
      t = process.hrtime.bigint();
      for (let i = 0; i < puts; i++) await pgVault.put(`bench/put_${i % 10}`, `value-${i}`);
      const pgMs = Number(process.hrtime.bigint() - t) / 1e6 / puts;
      pgVault.close();
      await backend.close();
      printComparison({
        what: "put, PostgreSQL backend (per op, audited, one transaction)",
        how: "in-process vs a process it starts",
        ours: `vault.put ×${puts}`,
        oursMs: pgMs,
        peer: "dotenvx set (encrypted .env)",
        peerMs: peerSet,
        goal: "faster per put",
        met: pgMs < peerSet,
      });
      console.log(
        `\nput throughput: file ${(1000 / fileMs).toFixed(0)}/s, PostgreSQL ${(1000 / pgMs).toFixed(0)}/s (${formatMs(fileMs)} and ${formatMs(pgMs)} per put)`,
      );
    } finally {
      server.stop();
    }
  }
  console.log(`\nLoad average after the table: ${loadNow()}.`);
} finally {
  scratch.cleanup();
}
