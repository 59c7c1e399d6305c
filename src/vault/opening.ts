import { type Secret, SecretError } from "../secret/index.js";
import {
  deriveKek,
  integrityKeyAd,
  KEY_BYTES,
  type GuardedKey,
  masterCheck,
  randomBytesSodium,
  randomKey,
  recordMac,
  STORE_ID_BYTES,
  sameBytes,
  seal,
  toSecureKey,
  wipeKey,
} from "./crypto.js";
import { providerContext, VaultCore, type VaultOptions } from "./core.js";
import { historyError } from "./history.js";
import { HostMemory } from "./host-state.js";
import { Keyring, pickMaster, unwrapIk } from "./keyring.js";
import { emptyPolicy } from "./policy.js";
import {
  b64,
  type Body,
  checkFormat,
  type MetaBody,
  nowIso,
  parseEnvelope,
  parseJson,
  type RotationSchedule,
  VAULT_FORMAT,
  vaultTampered,
  wrapped,
} from "./records.js";
import { checkSchedule } from "./rotation.js";

/*
 * How a handle comes to hold a store's keys: creating a store (a new master, KEK 1, integrity
 * key, empty policy, first head), opening one (the provider's master that matches, a staged
 * master promoted or discarded, the full check), and joining one (this host's own copy of the
 * master of a store shared with other hosts).
 */

export interface InitVaultOptions extends VaultOptions {
  schedule?: RotationSchedule;
}

/** Creates a new store: master (kept by the provider), KEK 1, integrity key, empty policy, head. */
export async function createStore(options: InitVaultOptions): Promise<VaultCore> {
  if ((await options.backend.read("meta")) !== undefined) {
    throw new SecretError("VAULT_EXISTS", `a vault already exists at ${options.backend.location}`);
  }
  const schedule = options.schedule ?? {};
  checkSchedule(schedule);
  const now = options.now ?? (() => new Date());
  const storeId = randomBytesSodium(STORE_ID_BYTES);
  const master = randomKey();
  const providerRecords = await options.provider.create(
    { storeId, readBody: async () => undefined },
    master,
    1,
  );
  const kek = deriveKek(master, storeId, 1);
  const ik = randomKey();
  const created = nowIso(now);
  const meta: MetaBody = {
    format: VAULT_FORMAT,
    storeId: storeId.toString("base64"),
    created,
    master: {
      version: 1,
      check: masterCheck(master, storeId).toString("base64"),
      provider: options.provider.kind,
      rotated: created,
    },
    kek: 1,
    keks: [{ v: 1, created }],
    ik: { kek: 1, ...wrapped(seal(kek, ik, integrityKeyAd(storeId, 1))) },
    schedule,
    rotated: { kek: created, dek: created },
  };
  const core = new VaultCore(options, Keyring.of(storeId, master, ik, meta, new Map([[1, kek]])));
  await core.barrier.creating(() =>
    core.transact("vault.init", undefined, async (tx) => {
      tx.put("meta", meta);
      tx.put("policy", emptyPolicy());
      for (const [key, body] of Object.entries(providerRecords)) tx.put(key, body as Body);
    }),
  );
  return core;
}

/** Opens an existing store and checks all of it (docs/vault-format.md section 4). */
export async function openStore(options: VaultOptions): Promise<VaultCore> {
  const metaRecord = await options.backend.read("meta");
  if (metaRecord === undefined) {
    throw new SecretError("VAULT_NOT_FOUND", `no vault at ${options.backend.location}`, {
      hint: "create one with: keyhold vault init",
    });
  }
  const envelope = parseEnvelope("meta", metaRecord.value);
  const meta = parseJson(envelope.b, "meta") as MetaBody;
  checkFormat(meta);
  const storeId = Buffer.from(String(meta.storeId), "base64");
  if (storeId.length !== STORE_ID_BYTES) throw vaultTampered("vault meta record is malformed");
  // A copy from before a master rotation this host knows of: refused before any master is looked for.
  const host = new HostMemory(options.stateDir, storeId, options.limits, options.now ?? (() => new Date()));
  host.refuseRetired(String(meta.master?.check));
  const ctx = providerContext(options.backend, storeId);
  const candidates = await options.provider.candidates(ctx);
  const found = pickMaster(candidates, storeId, Buffer.from(String(meta.master?.check), "base64"));
  if (found === undefined) {
    throw new SecretError(
      "MASTER_KEY_MISSING",
      `no master key of this host opens the vault at ${options.backend.location}`,
      {
        hint: "import this vault's master key on this host (keyhold vault init --join) or use the provider it was created with",
      },
    );
  }
  const { master } = found;
  // A master rotation interrupted before its commit leaves a staged master nobody uses (discard);
  // one interrupted after the commit leaves the store on the staged master (promote).
  if (candidates.length > 1) {
    if (found.index === candidates.length - 1) await options.provider.promote(ctx);
    else await options.provider.discard(ctx);
  }
  const ik = unwrapIk(master, storeId, meta);
  if (!sameBytes(recordMac(ik, "meta", envelope.b), envelope.mac))
    throw vaultTampered("vault record meta failed its integrity check");
  const core = new VaultCore(options, Keyring.of(storeId, master, ik, meta));
  const { report, verdict } = await core.verify();
  if (!report.ok) {
    core.close();
    throw (
      (verdict && historyError(verdict, core.host.seenPath)) ??
      vaultTampered(`vault failed its integrity check: ${report.problems[0]}`)
    );
  }
  return core;
}

/**
 * Gives this host its own copy of an existing store's master (a PostgreSQL store shared by
 * several hosts): the master, exported on a host that has it, is checked against the store and
 * handed to this host's provider (its own systemd credential or keyring item).
 */
export async function joinStore(options: VaultOptions & { master: Secret }): Promise<void> {
  const metaRecord = await options.backend.read("meta");
  if (metaRecord === undefined) {
    throw new SecretError("VAULT_NOT_FOUND", `no vault at ${options.backend.location}`);
  }
  const meta = parseJson(parseEnvelope("meta", metaRecord.value).b, "meta") as MetaBody;
  const storeId = Buffer.from(String(meta.storeId), "base64");
  if (options.provider.kind === "passphrase") {
    throw new SecretError("USAGE", "a passphrase vault needs no joining: open it with its passphrase");
  }
  const bytes = options.master.exposeBytes();
  if (bytes.length !== KEY_BYTES) throw new SecretError("INVALID_FORMAT", "a vault master key is 32 bytes");
  const master: GuardedKey = toSecureKey(Buffer.from(bytes));
  try {
    if (!sameBytes(masterCheck(master, storeId), b64(meta.master.check))) {
      throw new SecretError("MASTER_KEY_MISSING", "this master key does not belong to the vault", {
        hint: "export it again from a host that opens the vault (keyhold vault export-master)",
      });
    }
    await options.provider.create(providerContext(options.backend, storeId), master, meta.master.version);
  } finally {
    wipeKey(master);
  }
}
