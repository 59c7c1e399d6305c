import { type AuditLog, createAuditKey, openStateAuditLog } from "../audit/index.js";
import {
  assertStoreUsable,
  assertUserCredential,
  type CredentialEntryInfo,
  type CredentialMeta,
  decryptStored,
  exists,
  type DoctorFinding,
  initStore,
  listCredentials,
  type RunResult,
  readMeta,
  removeCredential,
  resolveLayout,
  resolveNotAfter,
  restoreVersion,
  runDoctor,
  runWithCredentials,
  type StoreLayout,
  type VersionMeta,
  writeVersion,
} from "../credstore/index.js";
import { KeyholdError, type Secret } from "../secret/index.js";
import { assertCredentialName, type WithKey } from "../systemd/index.js";
import { type ImportedEntry, type ImportOptions, importEnv, importFile } from "./credentials-import.js";
import { audited, fingerprint } from "./credentials-record.js";
import {
  assertSystemdRunning,
  lookupUser,
  type RunAsUser,
  spawnSystemdRun,
  systemdRunArgs,
  userEnvironment,
} from "./run-as.js";

/*
 * The writes' rollout guard loads when a write runs: `keyhold run` and `keyhold get` need neither
 * it nor the rollout records and the unit discovery it reads.
 */
const rolloutGuard = () => import("./rollout-guard.js");

export interface CredentialStoreOptions {
  /** The store directory (default $KEYHOLD_STORE, else /etc/credstore.encrypted). */
  store?: string;
  /** The state directory: versions, audit log, fingerprints (default $KEYHOLD_STATE, else /var/lib/keyhold). */
  state?: string;
  /** Environment for systemd-creds and the defaults above (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** What seals new values: auto (default), host, tpm2 or host+tpm2. */
  withKey?: WithKey;
}

/**
 * A value to store: a Secret the caller keeps (and disposes), or a function that produces one
 * once every check has passed (a prompt, say); a value produced that way is disposed here.
 */
export type ValueSource = Secret | (() => Promise<Secret>);

export interface RunRequest {
  /** Credentials to decrypt from the store. */
  names: readonly string[];
  command: readonly string[];
  /** The caller's environment; as another user the command gets that user's instead. */
  env: NodeJS.ProcessEnv;
  /** Run as this user (a name, a uid in digits, or an entry from lookupUser). */
  user?: string | RunAsUser;
  /** Also export NAME_FILE=<path> for each credential. */
  fileVariables?: boolean;
  /**
   * Values loaded elsewhere (the vault), each given as the file `name`; the audit record names
   * `source` (vault:NS/NAME) in its place. They are disposed once written to the directory.
   */
  values?: readonly { name: string; value: Secret; source: string }[];
}

export type SystemdRunRequest = Pick<RunRequest, "names" | "command" | "env" | "user">;

/**
 * The credential store as an application uses it: every operation the CLI offers, with the same
 * checks, the same audit record (opened before anything changes; names and codes, never values)
 * and the same fingerprints for the leak scanner. The CLI only parses, calls one method and prints.
 */
export class CredentialStore {
  constructor(readonly layout: StoreLayout) {}

  static open(options: CredentialStoreOptions = {}): CredentialStore {
    return new CredentialStore(resolveLayout(options));
  }

  /** Creates the store, the state directory and the audit key; says what it changed. */
  async init(): Promise<string[]> {
    const l = this.layout;
    const changed = initStore(l);
    if (await createAuditKey(l.state, l.creds)) changed.push(`created the audit key in ${l.state}`);
    const log = await openStateAuditLog(l.state, l.creds);
    await log.append({ op: "init", result: "ok", detail: { changed: changed.length } });
    return changed;
  }

  /** Stores a new credential; refuses a name that exists (rotate replaces). */
  async set(name: string, value: ValueSource, options: { notAfter?: string } = {}): Promise<VersionMeta> {
    return this.#storeNew("set", name, value, options);
  }

  /** Replaces a credential's value, keeping the earlier versions (history, rollback). */
  async rotate(name: string, value: ValueSource, options: { notAfter?: string } = {}): Promise<VersionMeta> {
    return this.#storeNew("rotate", name, value, options);
  }

  async #storeNew(
    op: "set" | "rotate",
    name: string,
    source: ValueSource,
    options: { notAfter?: string },
  ): Promise<VersionMeta> {
    const l = this.layout;
    assertCredentialName(name);
    if (options.notAfter !== undefined) resolveNotAfter(options.notAfter);
    assertStoreUsable(l);
    assertUserCredential(l, name, op);
    if (op === "set" && exists(l, name)) {
      throw new KeyholdError("CREDENTIAL_EXISTS", `credential already exists: ${name}`, {
        hint: `replace its value with: sudo keyhold rotate ${name}`,
      });
    }
    if (op === "rotate" && !exists(l, name)) {
      throw new KeyholdError("CREDENTIAL_NOT_FOUND", `credential not found: ${name}`, {
        hint: `create it with: sudo keyhold set ${name}`,
      });
    }
    // Refused before a value is asked for; checked again under the rollout lock.
    const { assertNoRollout, outsideRollout } = await rolloutGuard();
    assertNoRollout(l, name, op);
    const value = typeof source === "function" ? await source() : source;
    try {
      const version = await audited(
        l,
        op,
        name,
        () =>
          outsideRollout(l, name, op, () =>
            writeVersion(l, name, value, {
              mustExist: op === "rotate",
              origin: op,
              ...(options.notAfter === undefined ? {} : { notAfter: options.notAfter }),
            }),
          ),
        (v) => ({ version: v.version, size: v.size }),
      );
      await fingerprint(l, name, value);
      return version;
    } finally {
      if (value !== source) value.dispose();
    }
  }

  /** Encrypts a plaintext file as a new credential (see ImportOptions.shred). */
  async importFile(name: string, file: string, options: ImportOptions = {}): Promise<VersionMeta> {
    return importFile(this.layout, name, file, options);
  }

  /** One credential per KEY=value entry of a .env file: every entry or none. */
  async importEnv(file: string, options: { shred?: boolean } = {}): Promise<ImportedEntry[]> {
    return importEnv(this.layout, file, options);
  }

  /**
   * Decrypts a credential; the caller disposes it. `reveal` (recorded in the audit record) says
   * the caller shows the value to a person.
   */
  async get(name: string, options: { reveal?: boolean } = {}): Promise<Secret> {
    assertCredentialName(name);
    return audited(
      this.layout,
      "get",
      name,
      () => decryptStored(this.layout, name),
      () => ({ reveal: options.reveal ?? false }),
    );
  }

  /** Makes an earlier version current again (default: the one before the current). */
  async rollback(name: string, to?: number): Promise<VersionMeta> {
    if (to !== undefined && !(Number.isSafeInteger(to) && to > 0))
      throw new KeyholdError("USAGE", `a version is a positive whole number, got ${to}`);
    const { outsideRollout } = await rolloutGuard();
    return audited(
      this.layout,
      "rollback",
      name,
      () => outsideRollout(this.layout, name, "rollback", () => restoreVersion(this.layout, name, to)),
      (r) => ({ version: r.version }),
    );
  }

  /** Removes a credential and its kept versions, overwriting each file; resolves with how many versions it had. */
  async remove(name: string): Promise<number> {
    const { outsideRollout } = await rolloutGuard();
    return audited(
      this.layout,
      "rm",
      name,
      () => outsideRollout(this.layout, name, "rm", () => removeCredential(this.layout, name)),
      (n) => ({ versions: n }),
    );
  }

  /** A credential's versions, from its metadata (never its value). */
  history(name: string): CredentialMeta {
    assertCredentialName(name);
    const meta = readMeta(this.layout, name);
    if (meta === undefined) {
      throw new KeyholdError("CREDENTIAL_NOT_FOUND", `no history for ${name}`, {
        hint: "keyhold keeps history for credentials it stored",
      });
    }
    return meta;
  }

  /**
   * The current version of `name`; null for a credential of the store keyhold keeps no history of
   * (written by `systemd-creds encrypt` by hand): units may load it all the same.
   */
  currentVersion(name: string): number | null {
    assertCredentialName(name);
    const meta = readMeta(this.layout, name);
    if (meta !== undefined) return meta.current;
    if (exists(this.layout, name)) return null;
    throw new KeyholdError("CREDENTIAL_NOT_FOUND", `credential not found: ${name}`);
  }

  /** Every credential with its status; `check` also decrypts those keyhold did not write. */
  async list(options: { check?: boolean } = {}): Promise<CredentialEntryInfo[]> {
    return listCredentials(this.layout, { decryptCheck: options.check ?? false });
  }

  /** Audits the store and the host; with `fix`, repairs what it can, each repair audited. */
  async doctor(options: { fix?: boolean; unitDirs?: string[] } = {}): Promise<DoctorFinding[]> {
    const l = this.layout;
    const fix = options.fix ?? false;
    // Repairs are audited: with fix, the log must be writable before anything is changed.
    let log: AuditLog | undefined;
    if (fix) {
      log = await openStateAuditLog(l.state, l.creds);
      await log.ensureWritable();
    }
    return runDoctor(l, {
      fix,
      ...(options.unitDirs ? { unitDirs: options.unitDirs } : {}),
      onFix: async (f) => {
        log ??= await openStateAuditLog(l.state, l.creds);
        await log.append({
          op: "doctor-fix",
          name: f.subject.slice(0, 255),
          result: "ok",
          detail: { kind: f.kind },
        });
      },
    });
  }

  /**
   * Runs a command with the credentials as files in a private $CREDENTIALS_DIRECTORY on a memory
   * file system, never in argv or the environment. As another user the command gets that user's
   * environment and a session of its own (no controlling terminal it could push keystrokes into
   * after keyhold exits).
   */
  async run(request: RunRequest): Promise<RunResult> {
    const { names, command } = request;
    for (const n of names) assertCredentialName(n);
    assertCommand(command);
    const user = resolveUser(request.user);
    const values = request.values ?? [];
    return audited(
      this.layout,
      "run",
      [...names, ...values.map((v) => v.source)].join(",").slice(0, 255),
      (logged) =>
        runWithCredentials(this.layout, {
          names,
          values,
          command,
          env: user ? userEnvironment(user, request.env) : request.env,
          ...(user ? { uid: user.uid, gid: user.gid, detached: true } : {}),
          fileVariables: request.fileVariables ?? false,
          ready: logged,
        }),
      (r) => ({ exit: r.exitCode, command: command[0] as string, filesystem: r.filesystem }),
      { overlap: true },
    );
  }

  /** Lets PID 1 decrypt, as for a service (systemd-run with LoadCredentialEncrypted=); resolves with the exit code. */
  async runUnderSystemd(request: SystemdRunRequest): Promise<number> {
    const { names, command } = request;
    for (const n of names) assertCredentialName(n);
    assertCommand(command);
    const user = resolveUser(request.user);
    assertSystemdRunning();
    const args = systemdRunArgs(this.layout, names, command, user);
    return audited(this.layout, "run", names.join(","), () => spawnSystemdRun(args, request.env));
  }
}

function assertCommand(command: readonly string[]): void {
  if (command.length === 0) throw new KeyholdError("USAGE", "no command given");
}

function resolveUser(user: string | RunAsUser | undefined): RunAsUser | undefined {
  return typeof user === "string" ? lookupUser(user) : user;
}
