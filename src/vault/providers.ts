import { existsSync } from "node:fs";
import { join } from "node:path";
import { MASTER_CREDENTIAL } from "../defaults.js";
import { fsyncDirectory } from "../durable/index.js";
import { moveSealedKey, removeSealedKey, type SealedKeyFile, sealKey, unsealKey } from "../load/index.js";
import { type Secret, SecretError, wipeAll } from "../secret/index.js";
import type { WithKey } from "../systemd/index.js";
import {
  type Argon2Params,
  defaultArgon2Params,
  KEY_BYTES,
  type GuardedKey,
  open,
  passphraseAd,
  passphraseKey,
  randomBytesSodium,
  sameBytes,
  seal,
  toSecureKey,
  wipeKey,
} from "./crypto.js";
import { sodium } from "./sodium.js";

export type ProviderKind = "systemd-credential" | "keyring" | "passphrase";

/** What a provider may learn about the store it serves. */
export interface ProviderContext {
  storeId: Buffer;
  /** The body of a store record as stored (not yet authenticated: the AEAD inside protects it). */
  readBody(key: string): Promise<unknown>;
}

/** Records a provider wants written in the same commit as the store change (passphrase only). */
export type ProviderRecords = Record<string, unknown>;

/**
 * Holds the master key outside the store (docs/vault-format.md section 6). During a master
 * rotation a provider holds a current and a staged master; `candidates` offers both and the
 * vault keeps the one the store's master check names.
 */
export interface MasterKeyProvider {
  readonly kind: ProviderKind;
  create(ctx: ProviderContext, master: GuardedKey, masterVersion: number): Promise<ProviderRecords>;
  candidates(ctx: ProviderContext): Promise<GuardedKey[]>;
  stage(ctx: ProviderContext, master: GuardedKey, masterVersion: number): Promise<ProviderRecords>;
  promote(ctx: ProviderContext): Promise<void>;
  discard(ctx: ProviderContext): Promise<void>;
  /** Re-authentication for sensitive operations; providers without a secret of their own ask for root. */
  reauthenticate(ctx: ProviderContext, proof: Secret | undefined): Promise<void>;
  /**
   * Starts unsealing the candidates now, for a provider that needs nothing of the store to do so
   * (a systemd credential): the opener starts it beside the audit key's decrypt instead of after
   * it. The next candidates() takes what it unseals; release() wipes it if nothing took it.
   */
  prefetch?(): EarlyCandidates;
}

/** Candidates being unsealed ahead of candidates(); release() wipes them unless it took them. */
export interface EarlyCandidates {
  release(): void;
}

function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new SecretError("REAUTH_REQUIRED", `${what} needs re-authentication: run it as root`, {
      hint: "run this command with sudo",
    });
  }
}

export { MASTER_CREDENTIAL };

export interface SystemdCredentialProviderOptions {
  /** The credential store directory holding `keyhold-vault-master` (default /etc/credstore.encrypted). */
  dir: string;
  /** Environment for systemd-creds (tests set SYSTEMD_CREDENTIAL_SECRET). */
  env?: NodeJS.ProcessEnv;
  withKey?: WithKey;
  /** Credential name; several vaults on one host need several names. */
  name?: string;
}

/**
 * The master as a systemd credential, encrypted with this host's key; a service started with
 * `LoadCredentialEncrypted=keyhold-vault-master` finds it decrypted in $CREDENTIALS_DIRECTORY.
 */
export function systemdCredentialProvider(options: SystemdCredentialProviderOptions): MasterKeyProvider {
  const name = options.name ?? MASTER_CREDENTIAL;
  const current = join(options.dir, name);
  const staged = `${current}.next`;
  const creds = { env: options.env ?? process.env };

  // The master: 32 bytes sealed as they are (src/load/sealed-key.ts), the staged one beside it.
  const sealed = (path: string): SealedKeyFile => ({ name, path, encoding: "raw" });

  async function write(path: string, master: GuardedKey): Promise<void> {
    const encOptions = options.withKey === undefined ? creds : { ...creds, withKey: options.withKey };
    await sealKey(sealed(path), master, encOptions);
  }

  /**
   * The master at `path` in sodium's guarded memory, or undefined when there is none. With
   * `handed`, a service's $CREDENTIALS_DIRECTORY copy (LoadCredentialEncrypted=NAME) comes first.
   */
  async function unseal(path: string, handed: boolean): Promise<GuardedKey | undefined> {
    const key = await unsealKey(sealed(path), creds, { handed });
    if (key === undefined) return undefined;
    try {
      return toSecureKey(key.exposeBytes());
    } finally {
      key.dispose();
    }
  }

  async function unsealAll(): Promise<GuardedKey[]> {
    const found: GuardedKey[] = [];
    for (const [path, handed] of [
      [current, true],
      [staged, false],
    ] as const) {
      const key = await unseal(path, handed);
      if (key !== undefined) found.push(key);
    }
    return found;
  }

  // What prefetch() started and no candidates() has taken yet.
  let early: Promise<GuardedKey[]> | undefined;

  return {
    kind: "systemd-credential",
    async create(_ctx, master) {
      if (existsSync(current)) {
        throw new SecretError("VAULT_EXISTS", `a vault master key already exists: ${current}`, {
          hint: "remove it only if no vault uses it, or pass another credential name",
        });
      }
      await write(current, master);
      return {};
    },
    async candidates() {
      const keys = early ?? unsealAll();
      early = undefined;
      return keys;
    },
    prefetch() {
      const keys = unsealAll(); // its systemd-creds is spawned before this returns
      keys.catch(() => undefined); // a failure is thrown by the candidates() that takes it
      early = keys;
      // The master goes into sodium's guarded memory once decrypted: sodium-native, a native addon
      // that takes tens of milliseconds to load, loads now, while the decrypts run.
      sodium();
      return {
        release() {
          if (early !== keys) return; // taken by candidates(), whose caller owns the keys
          early = undefined;
          keys.then((found) => {
            for (const key of found) wipeKey(key);
          }, () => undefined);
        },
      };
    },
    async stage(_ctx, master) {
      await write(staged, master);
      return {};
    },
    async promote() {
      if (!existsSync(staged)) return;
      moveSealedKey(sealed(staged), sealed(current)); // the old master leaves the key cache too
      fsyncDirectory(options.dir);
    },
    async discard() {
      try {
        if (removeSealedKey(sealed(staged))) fsyncDirectory(options.dir);
      } catch {
        // nothing staged
      }
    },
    async reauthenticate() {
      requireRoot("this operation");
    },
  };
}

export interface KeyringProviderOptions {
  /** Secret Service "service" attribute (default keyhold-vault). */
  service?: string;
}

interface KeyringEntry {
  setSecret(secret: Uint8Array): Promise<void>;
  getSecret(): Promise<number[] | null>;
  deleteCredential(): Promise<boolean>;
}

async function keyringEntry(service: string, account: string): Promise<KeyringEntry> {
  const { AsyncEntry } = await import("@napi-rs/keyring");
  return new AsyncEntry(service, account) as unknown as KeyringEntry;
}

function keyringFailure(err: unknown): SecretError {
  return new SecretError("MASTER_KEY_MISSING", "the Secret Service keyring is not reachable", {
    hint: "start a desktop session (gnome-keyring or KWallet) or use the systemd-credential provider",
    cause: err,
  });
}

/** The master in the desktop's Secret Service keyring (gnome-keyring, KWallet) through @napi-rs/keyring. */
export function keyringProvider(options: KeyringProviderOptions = {}): MasterKeyProvider {
  const service = options.service ?? "keyhold-vault";
  const account = (ctx: ProviderContext) => ctx.storeId.toString("hex");

  async function load(acct: string): Promise<GuardedKey | undefined> {
    let raw: number[] | null;
    try {
      raw = await (await keyringEntry(service, acct)).getSecret();
    } catch (err) {
      throw keyringFailure(err);
    }
    if (raw === null) return undefined;
    const bytes = Uint8Array.from(raw);
    wipeAll([raw]); // the binding's plain array; `wipe` here is sodium's, for guarded memory
    if (bytes.length !== KEY_BYTES) {
      wipeKey(bytes);
      return undefined;
    }
    return toSecureKey(bytes);
  }

  async function save(acct: string, master: GuardedKey): Promise<void> {
    try {
      await (await keyringEntry(service, acct)).setSecret(master);
    } catch (err) {
      throw keyringFailure(err);
    }
  }

  async function remove(acct: string): Promise<void> {
    try {
      await (await keyringEntry(service, acct)).deleteCredential();
    } catch {
      // already gone
    }
  }

  return {
    kind: "keyring",
    async create(ctx, master) {
      await save(account(ctx), master);
      return {};
    },
    async candidates(ctx) {
      const found: GuardedKey[] = [];
      for (const acct of [account(ctx), `${account(ctx)}.next`]) {
        const key = await load(acct);
        if (key !== undefined) found.push(key);
      }
      return found;
    },
    async stage(ctx, master) {
      await save(`${account(ctx)}.next`, master);
      return {};
    },
    async promote(ctx) {
      const next = await load(`${account(ctx)}.next`);
      if (next === undefined) return;
      await save(account(ctx), next);
      wipeKey(next);
      await remove(`${account(ctx)}.next`);
    },
    async discard(ctx) {
      await remove(`${account(ctx)}.next`);
    },
    async reauthenticate() {
      requireRoot("this operation");
    },
  };
}

export const PASSPHRASE_RECORD = "master/passphrase";

interface PassphraseBody {
  alg: "argon2id13";
  ops: number;
  mem: number;
  salt: string;
  version: number;
  n: string;
  c: string;
}

export interface PassphraseProviderOptions {
  passphrase: Secret;
  /** Argon2id cost for new wrappings (default libsodium's MODERATE: 3 passes, 256 MiB). */
  argon2?: Argon2Params;
}

/**
 * The master wrapped under an Argon2id key from a passphrase, inside the store itself
 * (`master/passphrase`), with its salt and cost parameters beside it.
 */
export function passphraseProvider(options: PassphraseProviderOptions): MasterKeyProvider {
  const params = options.argon2 ?? defaultArgon2Params();

  async function wrap(ctx: ProviderContext, master: GuardedKey, version: number): Promise<PassphraseBody> {
    const salt = randomBytesSodium(16);
    const key = await passphraseKey(options.passphrase.exposeBytes(), salt, params);
    try {
      const sealed = seal(key, master, passphraseAd(ctx.storeId, version));
      return {
        alg: "argon2id13",
        ops: params.ops,
        mem: params.mem,
        salt: salt.toString("base64"),
        version,
        n: sealed.nonce.toString("base64"),
        c: sealed.ciphertext.toString("base64"),
      };
    } finally {
      wipeKey(key);
    }
  }

  async function unwrap(ctx: ProviderContext): Promise<GuardedKey> {
    const body = (await ctx.readBody(PASSPHRASE_RECORD)) as PassphraseBody | undefined;
    if (body === undefined || body.alg !== "argon2id13") {
      throw new SecretError("MASTER_KEY_MISSING", "this vault has no passphrase-wrapped master key", {
        hint: "open it with the provider it was created with",
      });
    }
    const key = await passphraseKey(
      options.passphrase.exposeBytes(),
      Buffer.from(String(body.salt), "base64"),
      {
        ops: body.ops,
        mem: body.mem,
      },
    );
    try {
      return open(
        key,
        Buffer.from(String(body.n), "base64"),
        Buffer.from(String(body.c), "base64"),
        passphraseAd(ctx.storeId, body.version),
        "the master key",
      );
    } catch {
      throw new SecretError("WRONG_PASSPHRASE", "the passphrase does not unlock this vault");
    } finally {
      wipeKey(key);
    }
  }

  return {
    kind: "passphrase",
    async create(ctx, master, version) {
      return { [PASSPHRASE_RECORD]: await wrap(ctx, master, version) };
    },
    async candidates(ctx) {
      return [await unwrap(ctx)];
    },
    async stage(ctx, master, version) {
      return { [PASSPHRASE_RECORD]: await wrap(ctx, master, version) };
    },
    async promote() {},
    async discard() {},
    async reauthenticate(ctx, proof) {
      if (proof === undefined) {
        throw new SecretError("REAUTH_REQUIRED", "this operation needs the vault passphrase again");
      }
      const again = passphraseProvider({ passphrase: proof, argon2: params });
      const [mine] = await this.candidates(ctx);
      const [theirs] = await again.candidates(ctx);
      const same = mine !== undefined && theirs !== undefined && sameBytes(mine, theirs);
      wipeKey(mine);
      wipeKey(theirs);
      if (!same) throw new SecretError("WRONG_PASSPHRASE", "the passphrase does not unlock this vault");
    },
  };
}
