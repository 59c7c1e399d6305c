import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type AuditLog, createAuditKey, openStateAuditLog } from "../audit/index.js";
import {
  closeOpened,
  openForShred,
  parseDotenv,
  readOpened,
  readValue,
  runWithCredentials,
  type StoreLayout,
  shredOpened,
} from "../credstore/index.js";
import { writeFileAtomic } from "../durable/index.js";
import { readProtectedFile, secretFromText } from "../load/index.js";
import { isSecretError, Secret, SecretError } from "../secret/index.js";
import { printable } from "../secret/printable.js";
import { CREDENTIAL_SIZE_MAX } from "../systemd/index.js";
import {
  type AccessRule,
  checkPlugin,
  decryptFernet,
  FileBackend,
  initVault,
  joinVault,
  keyringProvider,
  legacyEntries,
  type MasterKeyProvider,
  openVault,
  PostgresBackend,
  type ProviderKind,
  parseManifest,
  parseRef,
  passphraseProvider,
  type RotationResult,
  type SecretRef,
  systemdCredentialProvider,
  type Vault,
  type VaultBackend,
  type VaultOp,
} from "../vault/index.js";
import { layoutFrom, WITH_KEYS } from "./args.js";
import {
  type CommandDef,
  type CommandGroup,
  defineCommand,
  type OptionTable,
  type RunContext,
} from "./command.js";
import { type CliIo, EXIT_FINDINGS, EXIT_OK, usageError, writeJson, writeLine } from "./io.js";
import { serveCredential } from "./vault-credential.js";

/*
 * `keyhold vault …`: argument parsing and printing only; everything else is src/vault. The
 * backend and provider chosen at `init` are remembered (never a secret) in
 * STATE/vault/config.json so later commands need no flags.
 */

interface VaultConfig {
  backend: "file" | "postgres";
  provider: ProviderKind;
  credentialName?: string;
  postgres?: { host?: string; port?: number; database?: string; user?: string; store?: string };
}

const CONFIG_FILE = "config.json";
const PROVIDERS: readonly ProviderKind[] = ["systemd-credential", "keyring", "passphrase"];

const COMMON = {
  json: { type: "boolean", description: "print JSON instead of text" },
  "passphrase-file": {
    type: "string",
    arg: "FILE",
    complete: "file",
    description: "the vault's passphrase (passphrase provider), from an owner-only file",
  },
} as const satisfies OptionTable;

const REVEAL = { type: "boolean", description: "print even to a terminal" } as const;
const FILE_ARG = { type: "string", arg: "FILE", complete: "file" } as const;

/** Each subcommand's own options; every one also takes COMMON, --store and --state. */
const OPTIONS = {
  init: {
    provider: {
      type: "string",
      arg: "PROVIDER",
      complete: PROVIDERS,
      description: "who holds the master key: systemd-credential (default), keyring or passphrase",
    },
    backend: {
      type: "string",
      arg: "BACKEND",
      complete: ["file", "postgres"],
      description: "where records live: file (default) or postgres",
    },
    "pg-host": { type: "string", arg: "HOST", description: "postgres: the server's host" },
    "pg-port": { type: "string", arg: "PORT", description: "postgres: the server's port" },
    "pg-database": { type: "string", arg: "DB", description: "postgres: the database" },
    "pg-user": { type: "string", arg: "USER", description: "postgres: the role to connect as" },
    "pg-store": {
      type: "string",
      arg: "NAME",
      description: "postgres: the store's name, when a database holds several",
    },
    "credential-name": {
      type: "string",
      arg: "NAME",
      description: "systemd-credential: the master key's credential name (default keyhold-vault-master)",
    },
    join: {
      type: "boolean",
      description: "join a shared vault with this host's copy of its master key, read from stdin",
    },
    "schedule-master": {
      type: "string",
      arg: "SPAN",
      description: "rotate the master key this often (e.g. 365d)",
    },
    "schedule-kek": {
      type: "string",
      arg: "SPAN",
      description: "rotate the key-encryption key this often (e.g. 90d)",
    },
    "schedule-dek": {
      type: "string",
      arg: "SPAN",
      description: "rotate the data keys this often (e.g. 30d)",
    },
    "with-key": {
      type: "string",
      arg: "KEY",
      complete: WITH_KEYS,
      description: "what seals the master key credential: auto (default), host, tpm2 or host+tpm2",
    },
  },
  put: {
    expires: { type: "string", arg: "ISO-TIME", description: "the secret expires at this time" },
    "from-file": { ...FILE_ARG, description: "migrate the value from a plaintext FILE" },
    shred: {
      type: "boolean",
      description: "with --from-file: overwrite and remove FILE once the vault reads back the same bytes",
    },
    "keep-newline": { type: "boolean", description: "keep a final newline (the value byte for byte)" },
  },
  get: {
    version: { type: "string", arg: "N", description: "an earlier version" },
    reveal: REVEAL,
  },
  ls: {},
  versions: {},
  rollback: {
    to: { type: "string", arg: "N", description: "the version to make current (default: the one before)" },
  },
  rm: {},
  rotate: {
    rewrite: { type: "boolean", description: "dek: also re-encrypt every value under the new key" },
    due: { type: "boolean", description: "rotate what the schedule says is due (the timer's job)" },
    all: { type: "boolean", description: "rotate every key now, after an incident (needs --reason)" },
    reason: { type: "string", arg: "TEXT", description: "why, recorded in the audit log" },
    status: { type: "boolean", description: "show the key versions and the schedule" },
    "render-timer": {
      type: "boolean",
      description: "print (or write) a systemd service and timer for --due",
    },
    exec: {
      type: "string",
      arg: "PATH",
      complete: "file",
      description: "with --render-timer: the keyhold executable (default /usr/local/bin/keyhold)",
    },
    "write-dir": {
      type: "string",
      arg: "DIR",
      complete: "directory",
      description: "with --render-timer: write the units to DIR",
    },
  },
  grant: {
    ops: {
      type: "string",
      arg: "OPS",
      description: "comma-separated: read, write, list, delete (default read)",
    },
  },
  revoke: {},
  unlock: {},
  policy: {},
  audit: {},
  verify: {},
  "migrate-fernet": {
    "key-file": { ...FILE_ARG, description: "the Fernet key (required)" },
    ttl: {
      type: "string",
      arg: "SECONDS",
      description: "the store's time-to-live; an older token is refused",
    },
    overwrite: {
      type: "boolean",
      description: "replace secrets that hold another value (adds a version) instead of refusing the import",
    },
  },
  "import-env": {
    ns: { type: "string", arg: "NS", description: "the namespace to import into (required)" },
    overwrite: {
      type: "boolean",
      description: "replace secrets that hold another value (adds a version) instead of refusing the import",
    },
  },
  run: {},
  "serve-credential": {
    for: { type: "string", arg: "SERVICE", description: "the service whose request this answers (required)" },
    ref: { type: "string", arg: "NS/NAME", description: "the secret it asks for (required)" },
    peer: {
      type: "string",
      arg: "INSTANCE",
      description: "systemd's instance name for the connection (required)",
    },
  },
  "export-master": { reveal: REVEAL },
} as const satisfies Record<string, OptionTable>;

type Sub = keyof typeof OPTIONS;
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void
  ? I
  : never;
/** What a subcommand's code gets: one switch serves them all, so its values are typed as any row's. */
type VaultContext = RunContext<typeof COMMON & UnionToIntersection<(typeof OPTIONS)[Sub]>>;

const row = (
  sub: Sub,
  synopsis: string,
  summary: string,
  extra: Partial<Pick<CommandDef, "passthrough" | "completePositionals" | "help">> = {},
): CommandDef =>
  defineCommand({
    name: `vault ${sub}`,
    synopsis,
    summary,
    options: { ...COMMON, ...OPTIONS[sub] } as OptionTable,
    ...extra,
    run: (ctx) => vaultSubcommand(sub, synopsis, ctx as unknown as VaultContext),
  });

/** `keyhold vault …`: one row per subcommand. */
export const vault: CommandGroup = {
  name: "vault",
  synopsis: "vault SUBCOMMAND [ARGS…]",
  subcommands: [
    row(
      "init",
      "vault init [--provider systemd-credential|keyring|passphrase] [--backend file|postgres] [--pg-host H --pg-port P --pg-database D --pg-user U --pg-store S] [--join] [--schedule-master 365d] [--schedule-kek 90d] [--schedule-dek 30d]",
      "create a vault (or, with --join, take this host's copy of a shared vault's master from stdin)",
    ),
    row(
      "put",
      "vault put NS/NAME [--expires ISO-TIME] [--from-file FILE [--shred]] [--keep-newline]",
      "store a new version (value from a no-echo prompt, stdin, or a plaintext file to migrate; one final newline dropped unless --keep-newline)",
    ),
    row("get", "vault get NS/NAME [--version N] [--reveal]", "write a value to a pipe"),
    row("ls", "vault ls [NS] [--json]", "list secrets: names and metadata, never values"),
    row("versions", "vault versions NS/NAME [--json]", "list a secret's kept versions"),
    row("rollback", "vault rollback NS/NAME [--to N]", "make an earlier version current"),
    row("rm", "vault rm NS/NAME", "delete a secret and all its versions"),
    row(
      "rotate",
      "vault rotate master|kek|dek [NS] [--rewrite] | --due | --all --reason TEXT | --status | --render-timer [--exec PATH] [--write-dir DIR]",
      "rotate keys on schedule or on an event: kek rewraps; master (also in --all, and --due when due) replaces the integrity key and MACs every record again; dek --rewrite re-seals",
      { completePositionals: ["master", "kek", "dek"] },
    ),
    row(
      "grant",
      "vault grant PLUGIN NS/NAME|NS/* --ops read,write,list,delete",
      "let a plugin reach a secret (re-authentication)",
    ),
    row("revoke", "vault revoke PLUGIN NS/NAME|NS/*", "take a grant away (re-authentication)"),
    row(
      "unlock",
      "vault unlock PLUGIN",
      "end a plugin's lockout on this host now and forget its recent denials (re-authentication)",
    ),
    row(
      "policy",
      "vault policy [show] [--json] | vault policy load MANIFEST.json",
      "show policies, or register a plugin's manifest",
      { completePositionals: ["show", "load"] },
    ),
    row(
      "audit",
      "vault audit [verify] [--json]",
      "show the vault's audit records, or verify store and log (exit 3 on tampering)",
      { completePositionals: ["verify"] },
    ),
    row("verify", "vault verify [--json]", "check the whole store's integrity (exit 3 on problems)"),
    row(
      "migrate-fernet",
      "vault migrate-fernet TOKEN-FILE --key-file KEY-FILE [--ttl SECONDS] [--overwrite]",
      "import a legacy Fernet-encrypted JSON store, all or nothing",
      {
        completePositionals: "file",
        help: [
          "--ttl: the store's time-to-live; an older token is refused.",
          "api_keys.SERVICE becomes SERVICE/api_key, oauth_tokens.SERVICE.FIELD becomes SERVICE/oauth_FIELD.",
          "A secret already holding the same value is left as it is, so running it again changes nothing;",
          "one holding another value refuses the whole import unless --overwrite (which adds a version).",
        ].join("\n"),
      },
    ),
    row(
      "import-env",
      "vault import-env FILE.env --ns NS [--overwrite]",
      "import every entry of a .env file into namespace NS, all or nothing (same values left as they are; other values refused unless --overwrite)",
      { completePositionals: "file" },
    ),
    row(
      "run",
      "vault run NS/NAME[,NS/NAME…] -- COMMAND [ARGS…]",
      "run COMMAND with vault secrets as files NAME in a private $CREDENTIALS_DIRECTORY",
      { passthrough: true },
    ),
    row(
      "serve-credential",
      "vault serve-credential --for SERVICE --ref NS/NAME --peer INSTANCE",
      "answer one vault credential request of SERVICE (run by SERVICE-vault@.service, which keyhold unit --vault renders)",
    ),
    row(
      "export-master",
      "vault export-master",
      "write the master key to a pipe, for another host's --join (re-authentication)",
    ),
  ],
};

const vaultDir = (l: StoreLayout) => join(l.state, "vault");

/** Legacy stores and .env files to import: large, but not without end. */
const LEGACY_STORE_MAX = 64 * 1024 * 1024;

/**
 * A file named on the command line: a regular file (a FIFO or device would block or never end;
 * a symbolic link is refused as everywhere in keyhold) of at most `maxBytes`, any owner and mode.
 */
function readInputFile(path: string, maxBytes: number): Buffer {
  return readProtectedFile(path, { permissions: "any", owners: "any", maxBytes });
}

function readConfig(l: StoreLayout): VaultConfig {
  let text: string;
  try {
    text = readFileSync(join(vaultDir(l), CONFIG_FILE), "utf8");
  } catch {
    throw new SecretError("VAULT_NOT_FOUND", `no vault in ${l.state}`, {
      hint: "create one with: keyhold vault init",
    });
  }
  try {
    const c = JSON.parse(text) as VaultConfig;
    if (!["file", "postgres"].includes(c.backend) || !PROVIDERS.includes(c.provider)) throw new Error("bad");
    return c;
  } catch {
    throw new SecretError(
      "INVALID_FORMAT",
      `vault configuration is malformed: ${join(vaultDir(l), CONFIG_FILE)}`,
    );
  }
}

/** Where this host's vault keeps its records and who holds its master, or undefined when there is no vault yet. */
export function vaultKind(l: StoreLayout): Pick<VaultConfig, "backend" | "provider"> | undefined {
  try {
    const { backend, provider } = readConfig(l);
    return { backend, provider };
  } catch (err) {
    if (isSecretError(err, "VAULT_NOT_FOUND")) return undefined;
    throw err;
  }
}

/**
 * `keyhold unit --vault … --install`: a unit's --vault list is what plugin SERVICE needs, so it is
 * recorded as (merged into) that plugin's manifest, read-only. Granting stays a separate decision
 * (`keyhold vault grant`). Says what was newly declared, what is not granted yet, and which of the
 * plugin's grants the unit no longer uses.
 */
export async function declareUnitNeeds(
  l: StoreLayout,
  plugin: string,
  refs: readonly SecretRef[],
  io: CliIo,
): Promise<{ added: SecretRef[]; ungranted: SecretRef[]; unused: AccessRule[] }> {
  return withVault(l, {}, io, async ({ vault }) => {
    const policy = await vault.policy();
    const needs = [...(policy.manifests[plugin]?.needs ?? [])];
    const grants = policy.grants[plugin] ?? [];
    const covers = (rule: AccessRule, r: SecretRef) =>
      rule.ns === r.ns && (rule.name === "*" || rule.name === r.name) && rule.ops.includes("read");
    const added = refs.filter((r) => !needs.some((n) => covers(n, r)));
    if (added.length > 0) {
      for (const r of added) needs.push({ ns: r.ns, name: r.name, ops: ["read"] });
      await vault.registerManifest({ plugin, needs });
    }
    return {
      added,
      ungranted: refs.filter((r) => !grants.some((g) => covers(g, r))),
      unused: grants.filter((g) => !refs.some((r) => covers(g, r))),
    };
  });
}

async function backendFor(l: StoreLayout, config: VaultConfig): Promise<VaultBackend> {
  if (config.backend === "file") return new FileBackend({ dir: vaultDir(l) });
  const pg = config.postgres ?? {};
  return PostgresBackend.connect({
    config: {
      ...(pg.host === undefined ? {} : { host: pg.host }),
      ...(pg.port === undefined ? {} : { port: pg.port }),
      ...(pg.database === undefined ? {} : { database: pg.database }),
      ...(pg.user === undefined ? {} : { user: pg.user }),
    },
    ...(pg.store === undefined ? {} : { store: pg.store }),
  });
}

/** The passphrase from --passphrase-file (owner-only file) or a no-echo prompt. */
async function passphrase(values: { "passphrase-file"?: string }, io: CliIo): Promise<Secret> {
  const file = values["passphrase-file"];
  if (file !== undefined) {
    const bytes = readProtectedFile(file, { maxBytes: 4096 });
    const text = bytes.toString("utf8").replace(/\r?\n$/, "");
    bytes.fill(0);
    if (text.length === 0) throw new SecretError("EMPTY_VALUE", "the passphrase file is empty");
    return Secret.fromString(text);
  }
  if (!io.stdin.isTTY) {
    throw usageError(
      "this vault needs its passphrase",
      "pass --passphrase-file FILE (mode 0600) or run on a terminal",
    );
  }
  return readValue("vault passphrase", io);
}

async function providerFor(
  l: StoreLayout,
  config: VaultConfig,
  values: { "passphrase-file"?: string },
  io: CliIo,
): Promise<{ provider: MasterKeyProvider; pass?: Secret }> {
  switch (config.provider) {
    case "systemd-credential":
      return {
        provider: systemdCredentialProvider({
          dir: l.store,
          env: io.env,
          ...(l.withKey === undefined ? {} : { withKey: l.withKey }),
          ...(config.credentialName === undefined ? {} : { name: config.credentialName }),
        }),
      };
    case "keyring":
      return { provider: keyringProvider() };
    case "passphrase": {
      const pass = await passphrase(values, io);
      return { provider: passphraseProvider({ passphrase: pass }), pass };
    }
  }
}

interface Opened {
  vault: Vault;
  audit: AuditLog;
  pass?: Secret;
  close(): Promise<void>;
}

async function openFromCli(
  l: StoreLayout,
  values: { "passphrase-file"?: string },
  io: CliIo,
): Promise<Opened> {
  const config = readConfig(l);
  const audit = await openStateAuditLog(l.state, l.creds);
  const { provider, pass } = await providerFor(l, config, values, io);
  const backend = await backendFor(l, config);
  let vault: Vault;
  try {
    vault = await openVault({
      backend,
      provider,
      stateDir: l.state,
      audit,
      onValueStored: fingerprintHook(l),
    });
  } catch (err) {
    await audit
      .append({ op: "vault.open", result: "error", code: isSecretError(err) ? err.code : "INTERNAL" })
      .catch(() => undefined);
    await backend.close();
    throw err;
  }
  return {
    vault,
    audit,
    ...(pass === undefined ? {} : { pass }),
    async close() {
      vault.close();
      pass?.dispose();
      await backend.close();
    },
  };
}

/** Keyed fingerprints of stored values for `keyhold scan` (src/scan), recorded when a value is stored. */
function fingerprintHook(l: StoreLayout): (name: string, value: Secret) => Promise<void> {
  return async (name, value) => {
    const { openFingerprintIndex } = await import("../scan/index.js");
    const index = await openFingerprintIndex(l.state, l.creds);
    await index.record(name, value, "vault");
  };
}

async function withVault<T>(
  l: StoreLayout,
  values: { "passphrase-file"?: string },
  io: CliIo,
  work: (o: Opened) => Promise<T>,
): Promise<T> {
  const opened = await openFromCli(l, values, io);
  try {
    return await work(opened);
  } finally {
    await opened.close();
  }
}

function refuseTerminal(io: CliIo, reveal: boolean | undefined, what: string): void {
  if (io.stdout.isTTY && !reveal) {
    throw new SecretError("TERMINAL_REFUSED", `refusing to print ${what} to a terminal`, {
      hint: "pipe it, or add --reveal",
    });
  }
}

function positiveInt(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9][0-9]{0,8}$/.test(text)) throw usageError(`${what} must be a positive whole number`);
  return Number(text);
}

function ruleFrom(target: string, ops: string | undefined): AccessRule {
  const slash = target.indexOf("/");
  if (slash < 0) throw usageError("the target is NS/NAME or NS/*");
  const ns = target.slice(0, slash);
  const name = target.slice(slash + 1);
  const list = (ops ?? "read").split(",").map((o) => o.trim()) as VaultOp[];
  return { ns, name, ops: list };
}

function printRotations(io: CliIo, json: boolean | undefined, results: RotationResult[]): void {
  if (json) {
    writeJson(io, results);
    return;
  }
  if (results.length === 0) writeLine(io.stdout, "nothing is due");
  for (const r of results) {
    writeLine(
      io.stdout,
      `rotated ${r.level}: now version ${r.version}${r.namespaces === undefined ? "" : ` (${r.namespaces} namespaces rewrapped)`}`,
    );
  }
}

export function renderRotationTimer(options: { exec: string; store: string; state: string }): {
  service: string;
  timer: string;
} {
  const service = `# keyhold-vault-rotate.service — rendered by keyhold vault rotate --render-timer
[Unit]
Description=keyhold vault: rotate the keys whose schedule is due

[Service]
Type=oneshot
ExecStart=${options.exec} vault rotate --due --store ${options.store} --state ${options.state}
NoNewPrivileges=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectSystem=strict
ProtectHome=yes
ReadWritePaths=${options.store} ${options.state}
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=no
UMask=0077
LimitCORE=0
`;
  const timer = `# keyhold-vault-rotate.timer — rendered by keyhold vault rotate --render-timer
[Unit]
Description=keyhold vault: daily check for keys due for rotation

[Timer]
OnCalendar=daily
RandomizedDelaySec=1h
Persistent=true

[Install]
WantedBy=timers.target
`;
  return { service, timer };
}

/**
 * `vault run`: the values go into a private directory on a memory file system (as systemd lays
 * out $CREDENTIALS_DIRECTORY), never into argv or the environment; the directory is wiped and
 * removed when the child ends, also when keyhold is interrupted.
 */
/** Reads vault secrets for `run`: each becomes the file NAME (the part after the namespace). */
export async function loadVaultSecrets(
  l: StoreLayout,
  values: { "passphrase-file"?: string },
  io: CliIo,
  refs: readonly SecretRef[],
): Promise<Array<{ name: string; value: Secret }>> {
  const names = new Set<string>();
  for (const r of refs) {
    if (names.has(r.name)) throw usageError(`two secrets would both be the file ${r.name}`);
    names.add(r.name);
  }
  return withVault(l, values, io, async ({ vault }) => {
    const out: Array<{ name: string; value: Secret }> = [];
    try {
      for (const r of refs) out.push({ name: r.name, value: await vault.get(r) });
    } catch (err) {
      for (const s of out) s.value.dispose();
      throw err;
    }
    return out;
  });
}

/** `keyhold vault run`: the same private credential directory and signal handling as `keyhold run`. */
async function runWithVaultSecrets(
  l: StoreLayout,
  values: { "passphrase-file"?: string },
  io: CliIo,
  refs: SecretRef[],
  command: string[],
): Promise<number> {
  const secrets = await loadVaultSecrets(l, values, io, refs);
  const result = await runWithCredentials(l, { names: [], values: secrets, command, env: io.env });
  return result.exitCode;
}

/** What an import did, or that it changed nothing because every value was stored already. */
function importSummary({ count, unchanged }: { count: number; unchanged: string[] }, where: string): string {
  if (count === 0)
    return `nothing changed: the ${unchanged.length} secrets ${where} are already stored with these values`;
  const same = unchanged.length === 0 ? "" : ` (${unchanged.length} already stored with these values)`;
  return `imported ${count} secrets ${where}${same}`;
}

/** The code of every subcommand, after the framework parsed its arguments. */
async function vaultSubcommand(
  sub: Sub,
  synopsis: string,
  { values, positionals, command, io }: VaultContext,
): Promise<number> {
  const needRef = (positionals: string[]) => {
    if (positionals.length !== 1)
      throw usageError(
        positionals.length === 0 ? "missing NS/NAME" : `unexpected argument: ${positionals[1]}`,
        `usage: keyhold ${synopsis}`,
      );
    return parseRef(positionals[0] as string);
  };

  switch (sub) {
    case "init": {
      if (positionals.length > 0)
        throw usageError(`unexpected argument: ${positionals[0]}`, `usage: keyhold ${synopsis}`);
      const provider = (values.provider ?? "systemd-credential") as ProviderKind;
      if (!PROVIDERS.includes(provider))
        throw usageError(`--provider must be one of ${PROVIDERS.join(", ")}`);
      const backend = values.backend ?? "file";
      if (backend !== "file" && backend !== "postgres")
        throw usageError("--backend must be file or postgres");
      const l = layoutFrom(values, io);
      const config: VaultConfig = { backend, provider };
      if (values["credential-name"] !== undefined) config.credentialName = values["credential-name"];
      if (backend === "postgres") {
        const port = positiveInt(values["pg-port"], "--pg-port");
        config.postgres = {
          ...(values["pg-host"] === undefined ? {} : { host: values["pg-host"] }),
          ...(port === undefined ? {} : { port }),
          ...(values["pg-database"] === undefined ? {} : { database: values["pg-database"] }),
          ...(values["pg-user"] === undefined ? {} : { user: values["pg-user"] }),
          ...(values["pg-store"] === undefined ? {} : { store: values["pg-store"] }),
        };
      }
      mkdirSync(l.state, { recursive: true, mode: 0o700 });
      mkdirSync(l.store, { recursive: true, mode: 0o700 });
      mkdirSync(vaultDir(l), { recursive: true, mode: 0o700 });
      await createAuditKey(l.state, l.creds);
      const audit = await openStateAuditLog(l.state, l.creds);
      const store = await backendFor(l, config);
      const { provider: p, pass } = await providerFor(l, config, values, io);
      const schedule = {
        ...(values["schedule-master"] === undefined ? {} : { master: values["schedule-master"] }),
        ...(values["schedule-kek"] === undefined ? {} : { kek: values["schedule-kek"] }),
        ...(values["schedule-dek"] === undefined ? {} : { dek: values["schedule-dek"] }),
      };
      try {
        let vault: Vault;
        if (values.join) {
          if (io.stdin.isTTY)
            throw usageError(
              "--join reads the master key from stdin",
              "pipe it from: keyhold vault export-master",
            );
          const chunks: Buffer[] = [];
          for await (const c of io.stdin) chunks.push(c as Buffer);
          const raw = Buffer.concat(chunks);
          const hex = raw.toString("utf8").trim();
          raw.fill(0);
          if (!/^[0-9a-f]{64}$/i.test(hex))
            throw new SecretError("INVALID_FORMAT", "the master key on stdin must be 64 hex characters");
          const master = Secret.fromBytes(Buffer.from(hex, "hex"), { wipeSource: true });
          vault = await joinVault({ backend: store, provider: p, stateDir: l.state, audit, master });
          master.dispose();
        } else {
          vault = await initVault({ backend: store, provider: p, stateDir: l.state, audit, schedule });
        }
        writeFileAtomic(join(vaultDir(l), CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`, {
          mode: 0o600,
        });
        writeLine(
          io.stdout,
          `${values.join ? "joined" : "created"} vault ${vault.storeId} (${config.backend} backend, master key: ${provider})`,
        );
        vault.close();
      } finally {
        pass?.dispose();
        await store.close();
      }
      return EXIT_OK;
    }

    case "put": {
      const ref = needRef(positionals);
      let expires: Date | undefined;
      if (values.expires !== undefined) {
        expires = new Date(values.expires);
        if (!Number.isFinite(expires.getTime())) throw usageError("--expires must be an ISO 8601 time");
      }
      const fromFile = values["from-file"];
      if (values.shred && fromFile === undefined) throw usageError("--shred goes with --from-file");
      const l = layoutFrom(values, io);
      const config = readConfig(l);
      if (
        config.provider === "passphrase" &&
        values["passphrase-file"] === undefined &&
        fromFile === undefined
      ) {
        throw usageError("put reads the value from stdin: give the passphrase with --passphrase-file");
      }
      // A plaintext file being migrated is read whatever its mode (it is what is being fixed).
      // With --shred the file is read and later overwritten through one descriptor.
      const opened = fromFile !== undefined && values.shred ? openForShred(fromFile) : undefined;
      let value: Secret;
      try {
        const keepNewline = values["keep-newline"] ?? false;
        value =
          fromFile === undefined
            ? await readValue(`${ref.ns}/${ref.name}`, io, { keepNewline })
            : secretFromText(
                opened
                  ? readOpened(opened, CREDENTIAL_SIZE_MAX)
                  : readProtectedFile(fromFile, { permissions: "any" }),
                keepNewline,
              );
      } catch (err) {
        if (opened) closeOpened(opened);
        throw err;
      }
      try {
        await withVault(l, values, io, async ({ vault }) => {
          const { version } = await vault.put(ref, value, expires === undefined ? {} : { expires });
          if (fromFile !== undefined && values.shred) {
            // Only once the vault gives back the same bytes is the original overwritten and removed.
            const back = await vault.get(ref);
            const same = back.verify(value);
            back.dispose();
            if (!same)
              throw new SecretError(
                "IO_ERROR",
                "the stored value did not read back the same; the original was kept",
              );
            if (opened) shredOpened(opened);
          }
          const tail = fromFile !== undefined && values.shred ? `; ${fromFile} overwritten and removed` : "";
          writeLine(io.stdout, `stored ${ref.ns}/${ref.name} version ${version}${tail}`);
        });
      } finally {
        value.dispose();
        if (opened) closeOpened(opened);
      }
      return EXIT_OK;
    }

    case "get": {
      const ref = needRef(positionals);
      const version = positiveInt(values.version, "--version");
      refuseTerminal(io, values.reveal, "a secret");
      const l = layoutFrom(values, io);
      const value = await withVault(l, values, io, ({ vault }) =>
        vault.get(ref, version === undefined ? {} : { version }),
      );
      try {
        await new Promise<void>((resolve, reject) =>
          io.stdout.write(value.exposeBytes(), (e) => (e ? reject(e) : resolve())),
        );
      } finally {
        value.dispose();
      }
      return EXIT_OK;
    }

    case "ls": {
      if (positionals.length > 1)
        throw usageError(`unexpected argument: ${positionals[1]}`, `usage: keyhold ${synopsis}`);
      const l = layoutFrom(values, io);
      const list = await withVault(l, values, io, ({ vault }) => vault.list(positionals[0]));
      if (values.json) writeJson(io, list);
      else {
        if (list.length === 0) writeLine(io.stdout, "no secrets");
        for (const s of list) {
          writeLine(
            io.stdout,
            `${`${s.ns}/${s.name}`.padEnd(40)} v${s.version} (${s.versions} kept)  updated ${s.updated}${s.expires ? `  expires ${s.expires}` : ""}`,
          );
        }
      }
      return EXIT_OK;
    }

    case "versions": {
      const ref = needRef(positionals);
      const l = layoutFrom(values, io);
      const list = await withVault(l, values, io, ({ vault }) => vault.versions(ref));
      if (values.json) writeJson(io, list);
      else
        for (const v of list)
          writeLine(
            io.stdout,
            `${v.current ? "*" : " "} v${v.version}  ${v.created}  dek ${v.dekVersion}${v.expires ? `  expires ${v.expires}` : ""}`,
          );
      return EXIT_OK;
    }

    case "rollback": {
      const ref = needRef(positionals);
      const to = positiveInt(values.to, "--to");
      const l = layoutFrom(values, io);
      const { version } = await withVault(l, values, io, ({ vault }) =>
        vault.rollback(ref, to === undefined ? {} : { to }),
      );
      writeLine(io.stdout, `${ref.ns}/${ref.name} is at version ${version} again`);
      return EXIT_OK;
    }

    case "rm": {
      const ref = needRef(positionals);
      const l = layoutFrom(values, io);
      await withVault(l, values, io, ({ vault }) => vault.delete(ref));
      writeLine(io.stdout, `removed ${ref.ns}/${ref.name}`);
      return EXIT_OK;
    }

    case "rotate": {
      const l = layoutFrom(values, io);
      if (values["render-timer"]) {
        const units = renderRotationTimer({
          exec: values.exec ?? "/usr/local/bin/keyhold",
          store: l.store,
          state: l.state,
        });
        if (values["write-dir"] !== undefined) {
          writeFileAtomic(join(values["write-dir"], "keyhold-vault-rotate.service"), units.service, {
            mode: 0o644,
          });
          writeFileAtomic(join(values["write-dir"], "keyhold-vault-rotate.timer"), units.timer, {
            mode: 0o644,
          });
          writeLine(
            io.stdout,
            `wrote keyhold-vault-rotate.service and keyhold-vault-rotate.timer to ${values["write-dir"]}`,
          );
        } else io.stdout.write(`${units.service}\n${units.timer}`);
        return EXIT_OK;
      }
      const [level, ns, extra] = positionals;
      if (extra !== undefined)
        throw usageError(`unexpected argument: ${extra}`, `usage: keyhold ${synopsis}`);
      const modes = [values.due, values.all, values.status, level !== undefined].filter(Boolean).length;
      if (modes !== 1)
        throw usageError(
          "give one of: master, kek, dek [NS], --due, --all, --status",
          `usage: keyhold ${synopsis}`,
        );
      if (values.all && (values.reason === undefined || values.reason.trim() === ""))
        throw usageError("--all needs --reason TEXT (it is audited)");
      if (level !== undefined && !["master", "kek", "dek"].includes(level))
        throw usageError(`unknown key level: ${level}`, `usage: keyhold ${synopsis}`);
      if (ns !== undefined && level !== "dek") throw usageError("only dek rotation takes a namespace");
      return withVault(l, values, io, async ({ vault, pass }) => {
        const auth = pass === undefined ? {} : { passphrase: pass };
        const reason = values.reason === undefined ? {} : { reason: values.reason };
        if (values.status) {
          const status = { keys: vault.keyVersions(), schedule: vault.schedule() };
          if (values.json) writeJson(io, status);
          else {
            writeLine(
              io.stdout,
              `master v${status.keys.master} (rotated ${status.schedule.lastMaster}, every ${status.schedule.master ?? "-"})`,
            );
            writeLine(
              io.stdout,
              `kek    v${status.keys.kek} (rotated ${status.schedule.lastKek ?? "-"}, every ${status.schedule.kek ?? "-"})`,
            );
            writeLine(
              io.stdout,
              `dek    rotated ${status.schedule.lastDek ?? "-"}, every ${status.schedule.dek ?? "-"}`,
            );
          }
          return EXIT_OK;
        }
        let results: RotationResult[];
        if (values.due) results = await vault.rotateDue();
        else if (values.all) results = await vault.rotateAll({ ...auth, reason: values.reason as string });
        else if (level === "master") results = [await vault.rotateMaster({ ...auth, ...reason })];
        else if (level === "kek") results = [await vault.rotateKek(reason)];
        else results = [await vault.rotateDek(ns, { rewrite: values.rewrite ?? false, ...reason })];
        printRotations(io, values.json, results);
        return EXIT_OK;
      });
    }

    case "grant":
    case "revoke": {
      if (positionals.length !== 2)
        throw usageError("expected PLUGIN and NS/NAME", `usage: keyhold ${synopsis}`);
      const [plugin, target] = positionals as [string, string];
      const rule = ruleFrom(target, values.ops);
      const l = layoutFrom(values, io);
      await withVault(l, values, io, async ({ vault, pass }) => {
        const auth = pass === undefined ? {} : { passphrase: pass };
        if (sub === "grant") await vault.grant(plugin, rule, auth);
        else await vault.revoke(plugin, rule.ns, rule.name, auth);
      });
      writeLine(
        io.stdout,
        sub === "grant"
          ? `granted ${plugin}: ${rule.ops.join(",")} on ${target}`
          : `revoked ${plugin} on ${target}`,
      );
      return EXIT_OK;
    }

    case "unlock": {
      if (positionals.length !== 1) throw usageError("expected PLUGIN", `usage: keyhold ${synopsis}`);
      const plugin = positionals[0] as string;
      const l = layoutFrom(values, io);
      const { wasLocked, denials } = await withVault(l, values, io, ({ vault, pass }) =>
        vault.unlock(plugin, pass === undefined ? {} : { passphrase: pass }),
      );
      if (wasLocked) writeLine(io.stdout, `unlocked ${plugin}`);
      else
        writeLine(
          io.stdout,
          `${plugin} was not locked out${denials > 0 ? ` (forgot ${denials} recent denials)` : ""}`,
        );
      return EXIT_OK;
    }

    case "policy": {
      const l = layoutFrom(values, io);
      if (positionals[0] === "load") {
        if (positionals.length !== 2)
          throw usageError("expected MANIFEST.json", `usage: keyhold ${synopsis}`);
        const manifest = parseManifest(readInputFile(positionals[1] as string, 1024 * 1024).toString("utf8"));
        await withVault(l, values, io, ({ vault }) => vault.registerManifest(manifest));
        writeLine(
          io.stdout,
          `registered the manifest of plugin ${manifest.plugin} (${manifest.needs.length} needs)`,
        );
        return EXIT_OK;
      }
      if (positionals.length > 1 || (positionals[0] !== undefined && positionals[0] !== "show")) {
        throw usageError(`unexpected argument: ${positionals.at(-1)}`, `usage: keyhold ${synopsis}`);
      }
      const policy = await withVault(l, values, io, ({ vault }) => vault.policy());
      if (values.json) writeJson(io, policy);
      else {
        const plugins = new Set([...Object.keys(policy.manifests), ...Object.keys(policy.grants)]);
        if (plugins.size === 0) writeLine(io.stdout, "no plugins");
        for (const p of [...plugins].sort()) {
          writeLine(io.stdout, `${p}:`);
          for (const n of policy.manifests[p]?.needs ?? [])
            writeLine(io.stdout, `  needs   ${n.ns}/${n.name} ${n.ops.join(",")}`);
          for (const g of policy.grants[p] ?? [])
            writeLine(io.stdout, `  granted ${g.ns}/${g.name} ${g.ops.join(",")}`);
        }
      }
      return EXIT_OK;
    }

    case "verify":
    case "audit": {
      const l = layoutFrom(values, io);
      const verifying = sub === "verify" || positionals[0] === "verify";
      if (
        positionals.length > (sub === "audit" ? 1 : 0) ||
        (sub === "audit" && positionals[0] !== undefined && positionals[0] !== "verify")
      ) {
        throw usageError(`unexpected argument: ${positionals.at(-1)}`, `usage: keyhold ${synopsis}`);
      }
      if (!verifying) {
        const audit = await openStateAuditLog(l.state, l.creds);
        const records = (await audit.read()).filter((r) => r.op.startsWith("vault."));
        if (values.json) writeJson(io, records);
        else
          for (const r of records)
            writeLine(
              io.stdout,
              printable(
                `${r.seq} ${r.time} uid=${r.uid} ${r.op} ${r.name ?? "-"} ${r.result}${r.code ? ` ${r.code}` : ""}`,
              ),
            );
        return EXIT_OK;
      }
      // A store that fails to open at all (tampered, replayed, forked) is a finding too, not just an error.
      let problems: string[];
      let firstSight: number | undefined;
      try {
        problems = await withVault(l, values, io, async ({ vault }) => {
          // verifyAudit checks the whole store first, then the log against this host's seal in it.
          const report = sub === "audit" ? await vault.verifyAudit() : await vault.verify();
          const store = "store" in report ? report.store : report;
          if (store.firstSight) firstSight = store.generation;
          return report.problems;
        });
      } catch (err) {
        if (
          !isSecretError(err) ||
          !["VAULT_TAMPERED", "VAULT_ROLLBACK", "VAULT_FORKED", "AUDIT_TAMPERED"].includes(err.code)
        )
          throw err;
        problems = [`${err.message} [${err.code}]`];
      }
      if (values.json)
        writeJson(io, { ok: problems.length === 0, problems, firstSight: firstSight !== undefined });
      else if (problems.length === 0) {
        // Nothing to compare with: say so rather than let a first look pass for a checked history.
        const sight =
          firstSight === undefined
            ? ""
            : ` (first sight: this host had not seen this store; it now remembers generation ${firstSight})`;
        writeLine(
          io.stdout,
          `${sub === "audit" ? "vault and audit log verified" : "vault verified"}${sight}`,
        );
      } else for (const p of problems) writeLine(io.stdout, `problem: ${printable(p)}`);
      return problems.length === 0 ? EXIT_OK : EXIT_FINDINGS;
    }

    case "migrate-fernet": {
      if (positionals.length !== 1) throw usageError("expected TOKEN-FILE", `usage: keyhold ${synopsis}`);
      if (values["key-file"] === undefined)
        throw usageError("--key-file KEY-FILE is required", `usage: keyhold ${synopsis}`);
      if (values.ttl !== undefined && !/^[1-9][0-9]{0,11}$/.test(values.ttl))
        throw usageError("--ttl takes a whole number of seconds, 1 or more", `usage: keyhold ${synopsis}`);
      const token = readInputFile(positionals[0] as string, LEGACY_STORE_MAX).toString("utf8");
      const keyBytes = readProtectedFile(values["key-file"], { maxBytes: 1024 });
      const key = Secret.fromBytes(keyBytes, { wipeSource: true });
      let plain: Secret;
      try {
        plain = decryptFernet(key, token, values.ttl === undefined ? {} : { ttlSeconds: Number(values.ttl) });
      } finally {
        key.dispose();
      }
      const entries = legacyEntries(plain);
      plain.dispose();
      const l = layoutFrom(values, io);
      try {
        const done = await withVault(l, values, io, ({ vault }) =>
          vault.importValues(entries, "fernet", { overwrite: values.overwrite ?? false }),
        );
        writeLine(io.stdout, importSummary(done, "from the legacy store"));
        for (const e of entries) writeLine(io.stdout, `  ${e.ref.ns}/${e.ref.name}`);
      } finally {
        for (const e of entries) e.value.dispose();
      }
      return EXIT_OK;
    }

    case "import-env": {
      if (positionals.length !== 1) throw usageError("expected FILE.env", `usage: keyhold ${synopsis}`);
      if (values.ns === undefined) throw usageError("--ns NS is required", `usage: keyhold ${synopsis}`);
      const file = positionals[0] as string;
      const ns = values.ns;
      const bytes = readInputFile(file, LEGACY_STORE_MAX);
      const entries = parseDotenv(file, bytes.toString("utf8"));
      bytes.fill(0);
      const l = layoutFrom(values, io);
      try {
        const done = await withVault(l, values, io, ({ vault }) =>
          vault.importValues(
            entries.map((e) => ({ ref: { ns, name: e.name }, value: e.value })),
            "dotenv",
            { overwrite: values.overwrite ?? false },
          ),
        );
        writeLine(io.stdout, importSummary(done, `into ${ns}`));
        for (const e of entries) writeLine(io.stdout, `  ${e.variable} -> ${ns}/${e.name}`);
      } finally {
        for (const e of entries) e.value.dispose();
      }
      return EXIT_OK;
    }

    case "run": {
      if (positionals.length !== 1)
        throw usageError("expected NS/NAME[,NS/NAME…]", `usage: keyhold ${synopsis}`);
      if (command.length === 0) throw usageError("no command given after --", `usage: keyhold ${synopsis}`);
      const refs = (positionals[0] as string).split(",").map((r) => parseRef(r));
      const names = new Set<string>();
      for (const r of refs) {
        if (names.has(r.name)) throw usageError(`two secrets would both be the file ${r.name}`);
        names.add(r.name);
      }
      const l = layoutFrom(values, io);
      return runWithVaultSecrets(l, values, io, refs, command);
    }

    case "serve-credential": {
      if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
      if (values.for === undefined || values.ref === undefined || values.peer === undefined)
        throw usageError(
          "--for SERVICE, --ref NS/NAME and --peer INSTANCE are required",
          `usage: keyhold ${synopsis}`,
        );
      const service = checkPlugin(values.for);
      const l = layoutFrom(values, io);
      return serveCredential({
        service,
        ref: parseRef(values.ref),
        peer: values.peer,
        io,
        read: (ref) => withVault(l, values, io, ({ vault }) => vault.scope(service).get(ref)),
        openAudit: () => openStateAuditLog(l.state, l.creds),
      });
    }

    case "export-master": {
      if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
      refuseTerminal(io, values.reveal, "the master key");
      const l = layoutFrom(values, io);
      const master = await withVault(l, values, io, ({ vault, pass }) =>
        vault.exportMaster(pass === undefined ? {} : { passphrase: pass }),
      );
      try {
        io.stdout.write(`${master.exposeBytes().toString("hex")}\n`);
      } finally {
        master.dispose();
      }
      return EXIT_OK;
    }
  }
  throw usageError(`unknown vault subcommand: ${sub}`);
}
