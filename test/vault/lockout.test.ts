import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { isSecretError, Secret } from "../../src/secret/index.js";
import { passphraseProvider, type Reauth, type Vault } from "../../src/vault/index.js";
import { makeCanary, makeScratch } from "../support/scratch.js";
import { makeVaultWorld, type VaultWorld } from "./support.js";

/*
 * Lockouts hold for every process on the host (docs/vault-format.md section 7): denials and the
 * end of a lockout live in STATE/vault-<store id>.lockouts.json, not in one vault handle.
 */

const code = (c: string) => (err: unknown) => isSecretError(err) && err.code === c;
const WORKER = join(import.meta.dirname, "fixtures", "lockout-worker.js");
const BIN = join(import.meta.dirname, "..", "..", "..", "bin", "keyhold.js");

interface Worker {
  /** Resolves once the worker has opened the vault. */
  ready: Promise<void>;
  /** Lets it start its attempts. */
  go(): void;
  /** One outcome per attempt: "ok" or an error code. */
  outcomes: Promise<string[]>;
}

/** A plugin in its own process (fixtures/lockout-worker.ts) asking for `ref` `attempts` times. */
function startWorker(
  where: { state: string; store: string; env: NodeJS.ProcessEnv },
  plugin: string,
  ref: string,
  attempts: number,
  maxDenials?: number,
): Worker {
  const args = [WORKER, where.state, where.store, plugin, ref, String(attempts)];
  if (maxDenials !== undefined) args.push(String(maxDenials));
  const child = spawn(process.execPath, args, { env: where.env, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    if (out.startsWith("ready\n")) markReady();
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const outcomes = new Promise<string[]>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (status) => {
      if (status !== 0) return reject(new Error(`lockout worker exited ${status}: ${err.slice(0, 800)}`));
      resolve(out.split("\n").slice(1, -1));
    });
  });
  return { ready, go: () => child.stdin.end(), outcomes };
}

function runWorker(...args: Parameters<typeof startWorker>): Promise<string[]> {
  const w = startWorker(...args);
  w.go();
  return w.outcomes;
}

/** A vault with `ns/granted` granted to plugins p and q and `ns/secret` granted to nobody. */
async function pluginVault(
  world: VaultWorld,
  extra: Parameters<VaultWorld["init"]>[0] = {},
  auth: Reauth = {},
): Promise<Vault> {
  const vault = await world.init(extra);
  await vault.put("ns/granted", "granted-value");
  await vault.put("ns/secret", "withheld-value");
  for (const plugin of ["p", "q"]) {
    await vault.registerManifest({ plugin, needs: [{ ns: "ns", name: "granted", ops: ["read"] }] });
    await vault.grant(plugin, { ns: "ns", name: "granted", ops: ["read"] }, auth);
  }
  return vault;
}

const lockoutPath = (world: VaultWorld, vault: Vault) =>
  join(world.scratch.state, `vault-${vault.storeId}.lockouts.json`);

const where = (world: VaultWorld) => ({
  state: world.scratch.state,
  store: world.scratch.store,
  env: world.scratch.env,
});

test("a lockout through one vault handle is in force for other handles on the host, and ends after lockoutMs", async () => {
  let now = 1_767_225_600_000;
  const clock = { now: () => new Date(now), limits: { maxDenials: 3, windowMs: 10_000, lockoutMs: 60_000 } };
  const world = await makeVaultWorld("keyhold-lockout-");
  try {
    const a = await pluginVault(world, clock);
    const b = await world.open(clock);

    // Denials add up across handles within the window: two through a, the third through b.
    await assert.rejects(a.scope("p").get("ns/secret"), code("ACCESS_DENIED"));
    await assert.rejects(a.scope("p").get("ns/secret"), code("ACCESS_DENIED"));
    await assert.rejects(b.scope("p").get("ns/secret"), code("ACCESS_DENIED"));
    await assert.rejects(a.scope("p").get("ns/granted"), code("LOCKED_OUT"));
    await assert.rejects(b.scope("p").get("ns/granted"), code("LOCKED_OUT"));

    // A handle opened after the lockout (a new process would open one) starts locked out, too.
    const c = await world.open(clock);
    await assert.rejects(c.scope("p").get("ns/granted"), code("LOCKED_OUT"));
    // Only p: another plugin and the application itself are not affected.
    assert.equal((await c.scope("q").get("ns/granted")).expose(), "granted-value");
    assert.equal((await c.get("ns/granted")).expose(), "granted-value");

    now += 60_000 - 1;
    await assert.rejects(c.scope("p").get("ns/granted"), code("LOCKED_OUT"));
    now += 1;
    assert.equal((await c.scope("p").get("ns/granted")).expose(), "granted-value");
    assert.equal((await a.scope("p").get("ns/granted")).expose(), "granted-value");

    // Denials older than the window do not add up.
    await assert.rejects(a.scope("p").get("ns/secret"), code("ACCESS_DENIED"));
    await assert.rejects(a.scope("p").get("ns/secret"), code("ACCESS_DENIED"));
    now += 10_000;
    await assert.rejects(b.scope("p").get("ns/secret"), code("ACCESS_DENIED"));
    await assert.rejects(b.scope("p").get("ns/secret"), code("ACCESS_DENIED"));
    assert.equal((await c.scope("p").get("ns/granted")).expose(), "granted-value");
    await assert.rejects(c.scope("p").get("ns/secret"), code("ACCESS_DENIED"));
    await assert.rejects(a.scope("p").get("ns/granted"), code("LOCKED_OUT"));

    const record = JSON.parse(readFileSync(lockoutPath(world, a), "utf8"));
    assert.deepEqual(record, { format: 1, plugins: { p: { denials: [], lockedUntil: now + 60_000 } } });
    for (const v of [a, b, c]) v.close();
  } finally {
    world.cleanup();
  }
});

test("a lockout holds across separate processes, both ways", async () => {
  const world = await makeVaultWorld("keyhold-lockout-proc-");
  try {
    const vault = await pluginVault(world);
    // One process is denied five times (the default limit); the next process is locked out.
    assert.deepEqual(await runWorker(where(world), "p", "ns/secret", 5), Array(5).fill("ACCESS_DENIED"));
    assert.deepEqual(await runWorker(where(world), "p", "ns/granted", 1), ["LOCKED_OUT"]);
    await assert.rejects(vault.scope("p").get("ns/granted"), code("LOCKED_OUT"));
    const fresh = await world.open();
    await assert.rejects(fresh.scope("p").get("ns/granted"), code("LOCKED_OUT"));

    // And the other way: locked out here, refused in a new process.
    for (let i = 0; i < 5; i++)
      await assert.rejects(vault.scope("q").get("ns/secret"), code("ACCESS_DENIED"));
    assert.deepEqual(await runWorker(where(world), "q", "ns/granted", 1), ["LOCKED_OUT"]);
    fresh.close();
    vault.close();

    const locked = (await world.audit.read()).filter((r) => r.code === "LOCKED_OUT");
    assert.deepEqual(
      locked.map((r) => r.detail?.plugin),
      ["p", "p", "p", "q"],
      "every refusal is audited with its plugin",
    );
  } finally {
    world.cleanup();
  }
});

test("denials from two processes at the same time are all counted", async () => {
  const world = await makeVaultWorld("keyhold-lockout-race-");
  try {
    const vault = await pluginVault(world);
    const perWorker = 25;
    // A high limit so nobody is locked out and every denial stays in the record; no audit log,
    // whose lock would otherwise take turns for the workers.
    const unaudited = { ...where(world), env: { ...world.scratch.env, LOCKOUT_WORKER_AUDIT: "off" } };
    const workers = [1, 2].map(() => startWorker(unaudited, "p", "ns/secret", perWorker, 1000));
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.go();
    for (const outcomes of await Promise.all(workers.map((w) => w.outcomes)))
      assert.deepEqual(outcomes, Array(perWorker).fill("ACCESS_DENIED"));
    const record = JSON.parse(readFileSync(lockoutPath(world, vault), "utf8"));
    assert.equal(record.plugins.p.denials.length, 2 * perWorker, "no denial was lost between the processes");
    // Under the default limit of 5 they count too: one more denial here locks p out.
    await assert.rejects(vault.scope("p").get("ns/secret"), code("ACCESS_DENIED"));
    await assert.rejects(vault.scope("p").get("ns/granted"), code("LOCKED_OUT"));
    vault.close();
  } finally {
    world.cleanup();
  }
});

test("a lockout record that cannot be read or parsed locks every plugin out until root removes it", async () => {
  const world = await makeVaultWorld("keyhold-lockout-corrupt-");
  try {
    const vault = await pluginVault(world);
    const path = lockoutPath(world, vault);
    const elsewhere = join(world.scratch.root, "empty-record.json");
    writeFileSync(elsewhere, '{"format":1,"plugins":{}}\n', { mode: 0o600 });
    const valid = '{"format":1,"plugins":{"q":{"denials":[],"lockedUntil":0}}}\n';
    const cases: Array<[string, () => void]> = [
      ["not JSON", () => writeFileSync(path, "{not json", { mode: 0o600 })],
      ["empty", () => writeFileSync(path, "", { mode: 0o600 })],
      ["truncated", () => writeFileSync(path, valid.slice(0, 30), { mode: 0o600 })],
      ["another format", () => writeFileSync(path, '{"format":2,"plugins":{}}', { mode: 0o600 })],
      ["no plugins", () => writeFileSync(path, '{"format":1}', { mode: 0o600 })],
      [
        "a malformed entry",
        () =>
          writeFileSync(path, '{"format":1,"plugins":{"p":{"denials":"x","lockedUntil":0}}}', {
            mode: 0o600,
          }),
      ],
      [
        "a negative time",
        () =>
          writeFileSync(path, '{"format":1,"plugins":{"p":{"denials":[],"lockedUntil":-1}}}', {
            mode: 0o600,
          }),
      ],
      [
        "an invalid plugin name",
        () =>
          writeFileSync(path, '{"format":1,"plugins":{"../x":{"denials":[],"lockedUntil":0}}}', {
            mode: 0o600,
          }),
      ],
      ["a symbolic link", () => symlinkSync(elsewhere, path)],
      ["a directory", () => mkdirSync(path)],
      [
        "writable by others",
        () => {
          writeFileSync(path, valid);
          chmodSync(path, 0o666);
        },
      ],
    ];
    const brokenRecord = (err: unknown) =>
      isSecretError(err, "LOCKED_OUT") &&
      err.message.includes(path) &&
      err.message.startsWith("every plugin is locked out") &&
      err.hint?.includes(`rm ${path}`) === true;
    for (const [label, make] of cases) {
      rmSync(path, { recursive: true, force: true });
      make();
      const before = label === "a directory" ? "" : readFileSync(path, "utf8");
      for (const plugin of ["p", "q"])
        await assert.rejects(vault.scope(plugin).get("ns/granted"), brokenRecord, `${label}: ${plugin}`);
      await assert.rejects(vault.scope("p").get("ns/secret"), brokenRecord, `${label}: a denial`);
      await assert.rejects(vault.unlock("p"), brokenRecord, `${label}: unlock`);
      if (label !== "a directory")
        assert.equal(readFileSync(path, "utf8"), before, `${label}: the record is left for root to look at`);
      // The application's own calls do not consult it.
      assert.equal((await vault.get("ns/granted")).expose(), "granted-value", label);
    }
    rmSync(path, { recursive: true, force: true });
    assert.equal((await vault.scope("p").get("ns/granted")).expose(), "granted-value", "removed: no state");
    vault.close();
    const refused = (await world.audit.read()).filter((r) => r.code === "LOCKED_OUT" && r.op === "vault.get");
    assert.equal(refused.length, cases.length * 3, "every refusal was audited");
  } finally {
    world.cleanup();
  }
});

test("keyhold vault unlock ends a lockout for every process and is audited", async () => {
  const s = makeScratch("keyhold-lockout-cli-");
  const keyhold = (args: string[], input = "") => {
    const r = spawnSync(process.execPath, [BIN, "vault", ...args], {
      env: s.env,
      input,
      encoding: "utf8",
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  try {
    assert.equal(keyhold(["init"]).code, 0);
    assert.equal(keyhold(["put", "ns/granted"], "granted-value").code, 0);
    assert.equal(keyhold(["put", "ns/secret"], "withheld-value").code, 0);
    const manifest = join(s.root, "p.json");
    writeFileSync(
      manifest,
      JSON.stringify({ plugin: "p", needs: [{ ns: "ns", name: "granted", ops: ["read"] }] }),
    );
    assert.equal(keyhold(["policy", "load", manifest]).code, 0);
    assert.equal(keyhold(["grant", "p", "ns/granted"]).code, 0);

    assert.deepEqual(await runWorker(s, "p", "ns/secret", 5), Array(5).fill("ACCESS_DENIED"));
    assert.deepEqual(await runWorker(s, "p", "ns/granted", 1), ["LOCKED_OUT"]);
    let o = keyhold(["unlock", "p"]);
    assert.deepEqual(o, { code: 0, stdout: "unlocked p\n", stderr: "" });
    assert.deepEqual(await runWorker(s, "p", "ns/granted", 1), ["ok"]);

    assert.deepEqual(await runWorker(s, "p", "ns/secret", 2), ["ACCESS_DENIED", "ACCESS_DENIED"]);
    o = keyhold(["unlock", "p"]);
    assert.equal(o.stdout, "p was not locked out (forgot 2 recent denials)\n");
    // Forgotten: three more denials do not reach the limit of five.
    assert.deepEqual(await runWorker(s, "p", "ns/secret", 3), Array(3).fill("ACCESS_DENIED"));
    assert.deepEqual(await runWorker(s, "p", "ns/granted", 1), ["ok"]);

    o = keyhold(["unlock", "bad/name"]);
    assert.equal(o.code, 1);
    assert.match(o.stderr, /invalid plugin name \[INVALID_NAME\]/);
    assert.equal(keyhold(["unlock"]).code, 2);
    assert.match(keyhold(["help"]).stdout, /\n {2}unlock {10}end a plugin's lockout/);
    assert.match(keyhold(["unlock", "--help"]).stdout, /^usage: keyhold vault unlock PLUGIN\n/);

    const audit = JSON.parse(keyhold(["audit", "--json"]).stdout) as Array<{
      op: string;
      result: string;
      detail?: Record<string, unknown>;
    }>;
    const unlocks = audit.filter((r) => r.op === "vault.unlock");
    assert.deepEqual(
      unlocks.map((r) => [r.result, r.detail]),
      [
        ["ok", { plugin: "p", locked: true, denials: 0 }],
        ["ok", { plugin: "p", locked: false, denials: 2 }],
      ],
    );
  } finally {
    s.cleanup();
  }
});

test("unlock asks a passphrase vault for its passphrase again", async () => {
  const world = await makeVaultWorld("keyhold-lockout-pass-");
  try {
    const pass = Secret.fromString("correct horse battery staple");
    const FAST = { ops: 2, mem: 8 * 1024 * 1024 };
    const vault = await pluginVault(
      world,
      { provider: passphraseProvider({ passphrase: pass, argon2: FAST }), limits: { maxDenials: 1 } },
      { passphrase: pass },
    );
    await assert.rejects(vault.scope("p").get("ns/secret"), code("ACCESS_DENIED"));
    await assert.rejects(vault.unlock("p"), code("REAUTH_REQUIRED"));
    await assert.rejects(
      vault.unlock("p", { passphrase: Secret.fromString("nope") }),
      code("WRONG_PASSPHRASE"),
    );
    await assert.rejects(vault.scope("p").get("ns/granted"), code("LOCKED_OUT"), "still locked out");
    assert.deepEqual(await vault.unlock("p", { passphrase: pass }), { wasLocked: true, denials: 0 });
    assert.equal((await vault.scope("p").get("ns/granted")).expose(), "granted-value");
    vault.close();
    const unlocks = (await world.audit.read()).filter((r) => r.op === "vault.unlock");
    assert.deepEqual(
      unlocks.map((r) => [r.result, r.code]),
      [
        ["denied", "REAUTH_REQUIRED"],
        ["denied", "WRONG_PASSPHRASE"],
        ["ok", undefined],
      ],
    );
  } finally {
    world.cleanup();
  }
});

test("the lockout record never holds a value or a secret's name", async () => {
  const world = await makeVaultWorld("keyhold-lockout-canary-");
  try {
    const value = makeCanary("lockout-value");
    const name = makeCanary("lockout-name");
    const vault = await pluginVault(world, { limits: { maxDenials: 3 } });
    await vault.put(`ns/${name}`, value);
    await vault.put("ns/granted", value);
    assert.equal((await vault.scope("p").get("ns/granted")).expose(), value);
    for (let i = 0; i < 2; i++)
      await assert.rejects(vault.scope("p").get(`ns/${name}`), code("ACCESS_DENIED"));
    const path = lockoutPath(world, vault);
    const denied = readFileSync(path, "utf8");
    await assert.rejects(vault.scope("p").get(`ns/${name}`), code("ACCESS_DENIED"));
    await assert.rejects(vault.scope("p").get(`ns/${name}`), code("LOCKED_OUT"));
    const locked = readFileSync(path, "utf8");
    for (const text of [denied, locked]) {
      assert.ok(!text.includes(value), "no value");
      assert.ok(!text.includes(name), "no secret name");
      assert.ok(!text.includes(value.slice(3, 20)), "not even part of a value");
    }
    // Nothing else the lockout code wrote (its lock, temporary files) is left behind.
    assert.deepEqual(
      readdirSync(world.scratch.state).filter((f) => f.includes("lockouts")),
      [`vault-${vault.storeId}.lockouts.json`],
    );
    assert.equal(statSync(path).mode & 0o777, 0o600);
    vault.close();
  } finally {
    world.cleanup();
  }
});
