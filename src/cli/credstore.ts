import { existsSync, readFileSync, statfsSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { openStateAuditLog, type AuditLog, createAuditKey } from "../audit/index.js";
import {
  assertStoreUsable,
  assertUserCredential,
  closeOpened,
  decryptStored,
  exists,
  type Finding,
  initStore,
  listCredentials,
  parseDotenv,
  readMeta,
  readValue,
  removeCredential,
  resolveNotAfter,
  openForShred,
  readOpened,
  restoreVersion,
  runDoctor,
  runWithCredentials,
  shredOpened,
  type StoreLayout,
  writeVersion,
} from "../credstore/index.js";
import { readProtectedFile, secretFromText } from "../load/index.js";
import { isSecretError, type Secret, SecretError } from "../secret/index.js";
import {
  assertCredentialName,
  assertCredentialValueSize,
  CREDENTIAL_SIZE_MAX,
  CREDENTIAL_VALUE_MAX,
  systemTool,
} from "../systemd/index.js";
import { layoutFrom, WITH_KEYS } from "./args.js";
import {
  defineCommand,
  expectPositionals,
  type NoOptions,
  type OptionTable,
  type RunContext,
} from "./command.js";
import { type CliIo, EXIT_FINDINGS, EXIT_OK, usageError, writeJson, writeLine } from "./io.js";

/**
 * Runs `work` as one audited operation: the audit log is opened first (so an operation that
 * cannot be recorded does not happen), then one record with the result is appended. Records
 * carry names and codes, never values.
 */
async function audited<T>(
  l: StoreLayout,
  op: string,
  name: string | undefined,
  work: (logged: Promise<AuditLog>) => Promise<T>,
  detail?: (result: T) => Record<string, string | number | boolean>,
  options: { overlap?: boolean } = {},
): Promise<T> {
  const logged = openStateAuditLog(l.state, l.creds).then(async (log) => {
    await log.ensureWritable();
    assertRoomToRecord(l);
    return log;
  });
  // With `overlap`, work may start (decrypting, say) while the log opens, but must await
  // `logged` before its first irreversible step; without it, nothing starts before the log is open.
  if (!options.overlap) await logged;
  else logged.catch(() => undefined);
  try {
    const result = await work(logged);
    await (await logged).append({
      op,
      ...(name === undefined ? {} : { name }),
      result: "ok",
      ...(detail ? { detail: detail(result) } : {}),
    });
    return result;
  } catch (err) {
    const code = isSecretError(err) ? err.code : "INTERNAL";
    const log = await logged.catch(() => undefined);
    await log
      ?.append({ op, ...(name === undefined ? {} : { name }), result: "error", code })
      .catch(() => undefined);
    throw err;
  }
}

/** Free space an operation needs before it starts: its files and its audit record must fit. */
const ROOM_BYTES = 128 * 1024;
const ROOM_INODES = 32;

function assertRoomToRecord(l: StoreLayout): void {
  for (const dir of new Set([l.state, l.store])) {
    let free: number;
    try {
      const st = statfsSync(dir);
      free = Math.min(st.bavail * st.bsize, st.ffree >= ROOM_INODES ? Number.MAX_SAFE_INTEGER : 0);
    } catch {
      continue; // a missing directory is reported by the operation itself
    }
    if (free < ROOM_BYTES) {
      throw new SecretError(
        "IO_ERROR",
        `not enough free space or inodes on the file system of ${dir}; nothing was changed`,
        {
          hint: "free some space: keyhold refuses to start an operation it might not be able to finish and record",
        },
      );
    }
  }
}

/** Records keyed fingerprints of stored values so `keyhold scan` can find them leaked. */
async function fingerprint(l: StoreLayout, name: string, value: Secret): Promise<void> {
  const { openFingerprintIndex } = await import("../scan/index.js");
  const index = await openFingerprintIndex(l.state, l.creds);
  await index.record(name, value, "credstore");
}

const WITH_KEY = {
  type: "string",
  arg: "KEY",
  complete: WITH_KEYS,
  description: "what seals the credential: auto (default), host, tpm2 or host+tpm2",
} as const;

const SET_OPTIONS = {
  "not-after": {
    type: "string",
    arg: "TIME",
    description: "refuse to decrypt after TIME: a span such as +30d or an ISO 8601 time",
  },
  "with-key": WITH_KEY,
  "keep-newline": { type: "boolean", description: "keep a final newline (by default one is dropped)" },
} as const satisfies OptionTable;

const SHRED = {
  type: "boolean",
  description: "overwrite and remove the plaintext file once the credential decrypts to the same bytes",
} as const;
const JSON_OUTPUT = { type: "boolean", description: "print JSON instead of text" } as const;

/** For every command that takes one NAME: parseArgs reads a leading '-' as an option. */
const dashName = (command: string, rest = ""): string =>
  `\nA NAME that starts with '-' goes after '--': keyhold ${command} -- -NAME${rest}`;

/** The size rule `set`, `rotate` and the imports apply before anything is written. */
const VALUE_LIMIT = `\nA value is 1 to ${CREDENTIAL_VALUE_MAX} bytes, so that its ciphertext fits the 1 MiB systemd loads.`;

export const init = defineCommand({
  name: "init",
  synopsis: "init [--store DIR] [--state DIR]",
  help: "Creates the credential store (0700), the state directory and the audit key.",
  options: {},
  positionals: 0,
  run: initCommand,
});

async function initCommand({ values, io }: RunContext<NoOptions>): Promise<number> {
  const l = layoutFrom(values, io);
  const changed = initStore(l);
  if (await createAuditKey(l.state, l.creds)) changed.push(`created the audit key in ${l.state}`);
  const log = await openStateAuditLog(l.state, l.creds);
  await log.append({ op: "init", result: "ok", detail: { changed: changed.length } });
  for (const line of changed) writeLine(io.stdout, line);
  writeLine(
    io.stdout,
    changed.length === 0 ? `store ${l.store} already initialised` : `store ready: ${l.store}`,
  );
  return EXIT_OK;
}

async function storeNew(
  io: CliIo,
  l: StoreLayout,
  op: "set" | "rotate",
  name: string,
  value: Secret,
  notAfter: string | undefined,
): Promise<number> {
  try {
    const version = await audited(
      l,
      op,
      name,
      () =>
        writeVersion(l, name, value, {
          mustExist: op === "rotate",
          origin: op,
          ...(notAfter === undefined ? {} : { notAfter }),
        }),
      (v) => ({ version: v.version, size: v.size }),
    );
    await fingerprint(l, name, value);
    writeLine(
      io.stdout,
      `${op === "set" ? "stored" : "rotated"} ${name} (version ${version.version}, ${version.size} bytes)`,
    );
    return EXIT_OK;
  } finally {
    value.dispose();
  }
}

const setOrRotateCommand = (op: "set" | "rotate") =>
  defineCommand({
    name: op,
    synopsis: `${op} NAME [--not-after TIME] [--with-key auto|host|tpm2|host+tpm2] [--keep-newline]`,
    help:
      op === "set"
        ? `Reads a value (no-echo prompt on a terminal, else stdin) and stores it encrypted as NAME.\nRefuses to replace an existing credential: use rotate.${VALUE_LIMIT}${dashName(op)}`
        : `Replaces NAME's value, keeping the earlier versions encrypted (see history, rollback).${VALUE_LIMIT}${dashName(op)}`,
    options: SET_OPTIONS,
    positionals: 1,
    run: (ctx) => setOrRotate(ctx, op),
  });

async function setOrRotate(
  { values, positionals, io }: RunContext<typeof SET_OPTIONS>,
  op: "set" | "rotate",
): Promise<number> {
  const name = positionals[0] as string;
  assertCredentialName(name);
  if (values["not-after"] !== undefined) resolveNotAfter(values["not-after"]);
  const l = layoutFrom(values, io);
  assertStoreUsable(l);
  assertUserCredential(l, name, op);
  if (op === "set" && exists(l, name)) {
    throw new SecretError("CREDENTIAL_EXISTS", `credential already exists: ${name}`, {
      hint: `replace its value with: sudo keyhold rotate ${name}`,
    });
  }
  if (op === "rotate" && !exists(l, name)) {
    throw new SecretError("CREDENTIAL_NOT_FOUND", `credential not found: ${name}`, {
      hint: `create it with: sudo keyhold set ${name}`,
    });
  }
  const value = await readValue(name, io, { keepNewline: values["keep-newline"] ?? false });
  return storeNew(io, l, op, name, value, values["not-after"]);
}

export const set = setOrRotateCommand("set");
export const rotate = setOrRotateCommand("rotate");

/** Reads a plaintext file being migrated: any owner or mode (that is why it is migrated), but no symlinks or devices. */
function readPlaintextFile(path: string): Buffer {
  return readProtectedFile(path, { permissions: "any", owners: "any" });
}

const IMPORT_OPTIONS = { ...SET_OPTIONS, shred: SHRED } as const satisfies OptionTable;

export const importFile = defineCommand({
  name: "import",
  synopsis: "import NAME FILE [--shred] [--not-after TIME] [--keep-newline]",
  help: `Encrypts a plaintext FILE as NAME. With --shred, the file is overwritten and removed\nonly after the new credential decrypts to the same bytes.${VALUE_LIMIT}${dashName("import", " FILE")}`,
  options: IMPORT_OPTIONS,
  positionals: 2,
  completePositionals: "file",
  run: importCommand,
});

async function importCommand({
  values,
  positionals,
  io,
}: RunContext<typeof IMPORT_OPTIONS>): Promise<number> {
  const [name, file] = positionals as [string, string];
  assertCredentialName(name);
  if (values["not-after"] !== undefined) resolveNotAfter(values["not-after"]);
  const l = layoutFrom(values, io);
  assertStoreUsable(l);
  assertUserCredential(l, name, "import");
  if (exists(l, name)) {
    throw new SecretError("CREDENTIAL_EXISTS", `credential already exists: ${name}`, {
      hint: `use: sudo keyhold rotate ${name}`,
    });
  }
  // With --shred the file is opened once and overwritten through that same descriptor, so the
  // bytes wiped are the bytes imported even if the path is swapped in between.
  const opened = values.shred ? openForShred(file) : undefined;
  let raw: Buffer;
  try {
    raw = opened ? readOpened(opened, CREDENTIAL_SIZE_MAX) : readPlaintextFile(file);
  } catch (err) {
    if (opened) closeOpened(opened);
    throw err;
  }
  const value = secretFromText(raw, values["keep-newline"]);
  try {
    if (value.byteLength === 0) throw new SecretError("EMPTY_VALUE", `${file} is empty; nothing to import`);
    assertCredentialValueSize(name, value.byteLength);
    await audited(
      l,
      "import",
      name,
      async () => {
        const v = await writeVersion(l, name, value, {
          mustExist: false,
          origin: "import",
          ...(values["not-after"] === undefined ? {} : { notAfter: values["not-after"] }),
        });
        const back = await decryptStored(l, name);
        const same = back.verify(value);
        back.dispose();
        if (!same)
          throw new SecretError(
            "DECRYPT_FAILED",
            `credential ${name} did not decrypt to the imported bytes; ${file} was kept`,
          );
        if (opened) shredOpened(opened);
        return v;
      },
      (v) => ({ version: v.version, shredded: values.shred ?? false }),
    );
    await fingerprint(l, name, value);
    writeLine(
      io.stdout,
      `imported ${name} from ${file}${values.shred ? " (original overwritten and removed)" : ""}`,
    );
    if (!values.shred)
      writeLine(
        io.stderr,
        `keyhold: note: ${file} still holds the value in plaintext; remove it or rerun with --shred`,
      );
    return EXIT_OK;
  } finally {
    value.dispose();
    if (opened) closeOpened(opened);
  }
}

const IMPORT_ENV_OPTIONS = {
  shred: SHRED,
  "with-key": WITH_KEY,
  json: JSON_OUTPUT,
} as const satisfies OptionTable;

export const importEnv = defineCommand({
  name: "import-env",
  synopsis: "import-env FILE.env [--shred] [--json]",
  help: `Stores one credential per KEY=value entry (name: the key in lower case) and prints\nthe LoadCredentialEncrypted= lines to use. Takes every entry or none; entries already\nstored with the same value count as imported, so an interrupted import can be run again.${VALUE_LIMIT}`,
  options: IMPORT_ENV_OPTIONS,
  positionals: 1,
  completePositionals: "file",
  run: importEnvCommand,
});

async function importEnvCommand({
  values,
  positionals,
  io,
}: RunContext<typeof IMPORT_ENV_OPTIONS>): Promise<number> {
  const file = positionals[0] as string;
  const l = layoutFrom(values, io);
  assertStoreUsable(l);
  const opened = values.shred ? openForShred(file) : undefined;
  let entries: ReturnType<typeof parseDotenv>;
  try {
    const raw = opened ? readOpened(opened, CREDENTIAL_SIZE_MAX) : readPlaintextFile(file);
    try {
      entries = parseDotenv(file, raw.toString("utf8"));
    } finally {
      raw.fill(0);
    }
  } catch (err) {
    if (opened) closeOpened(opened);
    throw err;
  }
  try {
    // Every value is checked before the first is written: the import is all or nothing.
    for (const e of entries) {
      assertUserCredential(l, e.name, "import-env");
      assertCredentialValueSize(e.name, e.value.byteLength);
    }
  } catch (err) {
    if (opened) closeOpened(opened);
    for (const e of entries) e.value.dispose();
    throw err;
  }
  const written: string[] = [];
  // Entries already stored with the same value count as imported, so running the same import
  // again — after it was interrupted, or in a provisioning script — finishes it instead of failing.
  const present = new Set<string>();
  try {
    const taken: string[] = [];
    for (const e of entries) {
      if (!exists(l, e.name)) continue;
      const current = await decryptStored(l, e.name);
      try {
        if (current.verify(e.value)) present.add(e.name);
        else taken.push(e.name);
      } finally {
        current.dispose();
      }
    }
    if (taken.length > 0) {
      throw new SecretError(
        "CREDENTIAL_EXISTS",
        `credentials already exist with other values: ${taken.join(", ")}; nothing was imported`,
        {
          hint: "rotate them one by one with keyhold rotate, or remove those lines",
        },
      );
    }
    const todo = entries.filter((e) => !present.has(e.name));
    await audited(
      l,
      "import-env",
      undefined,
      async () => {
        for (const e of todo) {
          await writeVersion(l, e.name, e.value, { mustExist: false, origin: "import-env" });
          written.push(e.name);
        }
      },
      () => ({ count: todo.length, alreadyStored: present.size }),
    );
    for (const e of todo) await fingerprint(l, e.name, e.value);
    if (opened) shredOpened(opened);
  } catch (err) {
    if (opened) closeOpened(opened);
    // All or nothing: remove what this run wrote before the failure.
    for (const name of written) await removeCredential(l, name).catch(() => undefined);
    throw err;
  } finally {
    for (const e of entries) e.value.dispose();
  }
  if (values.json) {
    writeJson(
      io,
      entries.map((e) => ({ variable: e.variable, name: e.name, alreadyStored: present.has(e.name) })),
    );
    return EXIT_OK;
  }
  const imported = entries.length - present.size;
  const already =
    present.size === 0
      ? ""
      : ` (${present.size} already stored with these values: ${[...present].join(", ")})`;
  writeLine(
    io.stdout,
    `imported ${imported} credential${imported === 1 ? "" : "s"} from ${file}${already}. In the unit's [Service] section:`,
  );
  for (const e of entries) writeLine(io.stdout, `LoadCredentialEncrypted=${e.name}`);
  writeLine(io.stdout, "For programs that read NAME_FILE variables, add:");
  for (const e of entries) writeLine(io.stdout, `Environment=${e.variable}_FILE=%d/${e.name}`);
  if (!values.shred)
    writeLine(
      io.stderr,
      `keyhold: note: ${file} still holds the values in plaintext; remove it or rerun with --shred`,
    );
  return EXIT_OK;
}

const GET_OPTIONS = {
  reveal: { type: "boolean", description: "print the value even to a terminal" },
} as const satisfies OptionTable;

export const get = defineCommand({
  name: "get",
  synopsis: "get NAME [--reveal]",
  help: `Writes NAME's value to stdout for a pipe. Refuses a terminal unless --reveal.${dashName("get")}`,
  options: GET_OPTIONS,
  positionals: 1,
  run: getCommand,
});

async function getCommand({ values, positionals, io }: RunContext<typeof GET_OPTIONS>): Promise<number> {
  const name = positionals[0] as string;
  assertCredentialName(name);
  if (io.stdout.isTTY && !values.reveal) {
    throw new SecretError("TERMINAL_REFUSED", "refusing to print a credential to a terminal", {
      hint: `pipe it (keyhold get ${name} | …) or add --reveal`,
    });
  }
  const l = layoutFrom(values, io);
  const value = await audited(
    l,
    "get",
    name,
    () => decryptStored(l, name),
    () => ({ reveal: values.reveal ?? false }),
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

interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

function lookupUser(user: string): UserEntry {
  const passwd = readFileSync("/etc/passwd", "utf8");
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid, , home, shell] = line.split(":");
    if (name === undefined || uid === undefined || gid === undefined) continue;
    if (name === user || (uid === user && /^\d+$/.test(user))) {
      return { name, uid: Number(uid), gid: Number(gid), home: home || "/", shell: shell || "/bin/sh" };
    }
  }
  throw usageError(`unknown user: ${user}`);
}

/** The environment a command gets when it runs as another user: that user's, not root's. */
function userEnvironment(user: UserEntry, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    PATH: env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    LANG: env.LANG ?? "C.UTF-8",
    ...(env.TERM === undefined ? {} : { TERM: env.TERM }),
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: user.shell,
  };
}

const RUN_SYNOPSIS =
  "run [NAME[,NAME…]] [--vault NS/NAME]… [--user USER] [--file-vars] [--systemd] -- COMMAND [ARGS…]";

const RUN_OPTIONS = {
  user: {
    type: "string",
    arg: "USER",
    description: "run COMMAND as USER (a name or a uid), with that user's environment",
  },
  "file-vars": {
    type: "boolean",
    description: "also set NAME_FILE=<path> for each credential, for programs that read such variables",
  },
  systemd: {
    type: "boolean",
    description: "let systemd decrypt, as for a service (systemd-run with LoadCredentialEncrypted=)",
  },
  vault: {
    type: "string",
    arg: "NS/NAME",
    multiple: true,
    description: "also give vault secret NS/NAME, as the file NAME (repeatable)",
  },
  "passphrase-file": {
    type: "string",
    arg: "FILE",
    complete: "file",
    description: "with --vault: the vault's passphrase, from an owner-only file",
  },
} as const satisfies OptionTable;

export const run = defineCommand({
  name: "run",
  synopsis: RUN_SYNOPSIS,
  help: "Runs COMMAND with the credentials as files in a private $CREDENTIALS_DIRECTORY on a\nmemory file system; never in argv or the environment. Exits with COMMAND's code.\nA NAME that starts with '-' follows a comma: keyhold run ,-NAME -- COMMAND",
  options: RUN_OPTIONS,
  passthrough: true,
  run: runCommand,
});

async function runCommand({
  values,
  positionals,
  command,
  io,
}: RunContext<typeof RUN_OPTIONS>): Promise<number> {
  const synopsis = RUN_SYNOPSIS;
  const vaultRefs = values.vault ?? [];
  expectPositionals(positionals, vaultRefs.length > 0 && positionals.length === 0 ? 0 : 1, synopsis);
  if (command.length === 0) throw usageError("no command given", `usage: keyhold ${synopsis}`);
  const names = (positionals[0] ?? "").split(",").filter((n) => n !== "");
  for (const n of names) assertCredentialName(n);
  const l = layoutFrom(values, io);
  const user = values.user === undefined ? undefined : lookupUser(values.user);
  if (values.systemd) {
    if (values["file-vars"]) throw usageError("--file-vars cannot be combined with --systemd");
    if (vaultRefs.length > 0) throw usageError("--vault cannot be combined with --systemd");
    return runUnderSystemd(l, names, command, io, user);
  }
  // Vault secrets are read (and their reads audited by the vault) before anything else starts.
  let vaultValues: { name: string; value: Secret }[] = [];
  if (vaultRefs.length > 0) {
    const { parseRef } = await import("../vault/index.js");
    const { loadVaultSecrets } = await import("./vault.js");
    const refs = vaultRefs.map((r) => parseRef(r));
    vaultValues = await loadVaultSecrets(l, values, io, refs);
  }
  const result = await audited(
    l,
    "run",
    [...names, ...vaultRefs.map((r) => `vault:${r}`)].join(",").slice(0, 255),
    (logged) =>
      runWithCredentials(l, {
        names,
        values: vaultValues,
        command,
        // As another user the command gets that user's environment, and a session of its own (no
        // controlling terminal it could push keystrokes into after keyhold exits).
        env: user ? userEnvironment(user, io.env) : io.env,
        ...(user ? { uid: user.uid, gid: user.gid, detached: true } : {}),
        fileVariables: values["file-vars"] ?? false,
        ready: logged,
      }),
    (r) => ({ exit: r.exitCode, command: command[0] as string, filesystem: r.filesystem }),
    { overlap: true },
  );
  return result.exitCode;
}

/** --systemd: let PID 1 decrypt, as for a service (systemd-run --pipe --wait with LoadCredentialEncrypted=). */
async function runUnderSystemd(
  l: StoreLayout,
  names: string[],
  command: string[],
  io: CliIo,
  user: UserEntry | undefined,
): Promise<number> {
  if (!existsSync("/run/systemd/system")) {
    throw new SecretError("USAGE", "--systemd needs systemd running as PID 1 on this host", {
      hint: "run without --systemd",
    });
  }
  const { spawn } = await import("node:child_process");
  const args = ["--pipe", "--wait", "--collect", "--quiet", "--service-type=exec"];
  if (user) args.push(`--uid=${user.uid}`, `--gid=${user.gid}`);
  for (const n of names) args.push("-p", `LoadCredentialEncrypted=${n}:${l.store}/${n}`);
  args.push("--", ...command);
  return audited(
    l,
    "run",
    names.join(","),
    () =>
      new Promise<number>((resolve, reject) => {
        const child = spawn(systemTool("systemd-run"), args, { stdio: "inherit", env: io.env });
        child.on("error", reject);
        child.on("exit", (code, signal) =>
          resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0)),
        );
      }),
  );
}

const LS_OPTIONS = {
  json: JSON_OUTPUT,
  check: {
    type: "boolean",
    description: "also decrypt credentials keyhold did not write, to catch embedded-name mismatches",
  },
} as const satisfies OptionTable;

export const ls = defineCommand({
  name: "ls",
  synopsis: "ls [--json] [--check]",
  help: "Lists every credential with its status, without printing any value.\n--check also decrypts credentials keyhold did not write, to catch embedded-name mismatches.",
  options: LS_OPTIONS,
  positionals: 0,
  run: lsCommand,
});

async function lsCommand({ values, io }: RunContext<typeof LS_OPTIONS>): Promise<number> {
  const l = layoutFrom(values, io);
  const entries = await listCredentials(l, { decryptCheck: values.check ?? false });
  if (values.json) {
    writeJson(io, entries);
    return EXIT_OK;
  }
  if (entries.length === 0) {
    writeLine(io.stdout, `no credentials in ${l.store}`);
    return EXIT_OK;
  }
  const rows = entries.map((e) => [
    e.name,
    e.status,
    e.size === null ? "-" : String(e.size),
    e.keyType ?? "-",
    e.version === null ? "-" : String(e.version),
    e.created?.slice(0, 19).replace("T", " ") ?? "-",
    e.notAfter?.slice(0, 19).replace("T", " ") ?? "-",
    `${e.uid}:${e.gid} ${e.mode}`,
  ]);
  printTable(io, ["NAME", "STATUS", "SIZE", "KEY", "VERSION", "CREATED", "NOT-AFTER", "OWNER MODE"], rows);
  const own = entries.filter((e) => e.keyhold !== null);
  if (own.length > 0)
    writeLine(io.stdout, "\nkeyhold's own credentials (set, rotate, import, rollback and rm refuse them):");
  for (const e of own)
    writeLine(io.stdout, `  ${e.name}: ${e.keyhold?.role}; managed by ${e.keyhold?.managedBy}`);
  return EXIT_OK;
}

function printTable(io: CliIo, head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  for (const row of [head, ...rows])
    writeLine(
      io.stdout,
      row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    );
}

const HISTORY_OPTIONS = { json: JSON_OUTPUT } as const satisfies OptionTable;

export const history = defineCommand({
  name: "history",
  synopsis: "history NAME [--json]",
  help: `Lists NAME's versions (kept encrypted in the state directory).${dashName("history")}`,
  options: HISTORY_OPTIONS,
  positionals: 1,
  run: historyCommand,
});

async function historyCommand({
  values,
  positionals,
  io,
}: RunContext<typeof HISTORY_OPTIONS>): Promise<number> {
  const name = positionals[0] as string;
  assertCredentialName(name);
  const l = layoutFrom(values, io);
  const meta = readMeta(l, name);
  if (meta === undefined) {
    throw new SecretError("CREDENTIAL_NOT_FOUND", `no history for ${name}`, {
      hint: "keyhold keeps history for credentials it stored",
    });
  }
  if (values.json) {
    writeJson(io, { name, current: meta.current, versions: meta.versions });
    return EXIT_OK;
  }
  const rows = meta.versions.map((v) => [
    `${v.version === meta.current ? "*" : " "} ${v.version}`,
    v.created.slice(0, 19).replace("T", " "),
    v.origin,
    String(v.size),
    v.notAfter?.slice(0, 19).replace("T", " ") ?? "-",
  ]);
  printTable(io, ["  VERSION", "CREATED", "ORIGIN", "SIZE", "NOT-AFTER"], rows);
  return EXIT_OK;
}

const ROLLBACK_OPTIONS = {
  to: {
    type: "string",
    arg: "VERSION",
    description: "the version to make current (default: the one before)",
  },
} as const satisfies OptionTable;

export const rollback = defineCommand({
  name: "rollback",
  synopsis: "rollback NAME [--to VERSION]",
  help: `Makes an earlier version current again (default: the one before the current).${dashName("rollback")}`,
  options: ROLLBACK_OPTIONS,
  positionals: 1,
  run: rollbackCommand,
});

async function rollbackCommand({
  values,
  positionals,
  io,
}: RunContext<typeof ROLLBACK_OPTIONS>): Promise<number> {
  const name = positionals[0] as string;
  assertCredentialName(name);
  let to: number | undefined;
  if (values.to !== undefined) {
    if (!/^[1-9][0-9]{0,8}$/.test(values.to))
      throw usageError(`--to must be a version number, got ${JSON.stringify(values.to)}`);
    to = Number(values.to);
  }
  const l = layoutFrom(values, io);
  const v = await audited(
    l,
    "rollback",
    name,
    () => restoreVersion(l, name, to),
    (r) => ({ version: r.version }),
  );
  writeLine(
    io.stdout,
    `${name} is now version ${v.version} (from ${v.created.slice(0, 19).replace("T", " ")})`,
  );
  return EXIT_OK;
}

export const rm = defineCommand({
  name: "rm",
  synopsis: "rm NAME",
  help: `Removes NAME and its kept versions, overwriting each file before unlinking it.${dashName("rm")}`,
  options: {},
  positionals: 1,
  run: rmCommand,
});

async function rmCommand({ values, positionals, io }: RunContext<NoOptions>): Promise<number> {
  const name = positionals[0] as string;
  assertCredentialName(name);
  const l = layoutFrom(values, io);
  const versions = await audited(
    l,
    "rm",
    name,
    () => removeCredential(l, name),
    (n) => ({ versions: n }),
  );
  writeLine(io.stdout, `removed ${name} and ${versions} kept version${versions === 1 ? "" : "s"}`);
  return EXIT_OK;
}

const DOCTOR_OPTIONS = {
  fix: { type: "boolean", description: "repair modes, owners, embedded names and leftovers (audited)" },
  json: JSON_OUTPUT,
  units: {
    type: "string",
    arg: "DIR",
    multiple: true,
    complete: "directory",
    description: "look for unit files naming missing credentials in DIR (repeatable)",
  },
} as const satisfies OptionTable;

export const doctor = defineCommand({
  name: "doctor",
  synopsis: "doctor [--fix] [--json] [--units DIR]…",
  help: "Audits the store and the host: modes and owners, embedded names, expiry, plaintext files,\nunits naming missing credentials. --fix repairs modes, owners, names and leftovers. Exit 3 on findings.",
  options: DOCTOR_OPTIONS,
  positionals: 0,
  run: doctorCommand,
});

async function doctorCommand({ values, io }: RunContext<typeof DOCTOR_OPTIONS>): Promise<number> {
  const l = layoutFrom(values, io);
  const fix = values.fix ?? false;
  // Repairs are audited: with --fix, the log must be writable before anything is changed.
  let log: AuditLog | undefined;
  if (fix) {
    log = await openStateAuditLog(l.state, l.creds);
    await log.ensureWritable();
  }
  const findings: Finding[] = await runDoctor(l, {
    fix,
    ...(values.units ? { unitDirs: values.units } : {}),
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
  const open = findings.filter((f) => f.fixed === undefined);
  if (values.json) writeJson(io, { findings, open: open.length });
  else {
    for (const f of findings) {
      writeLine(io.stdout, `${f.fixed ? "fixed" : "FOUND"}  ${f.kind}: ${f.message}`);
      if (f.fixed) writeLine(io.stdout, `       ${f.fixed}`);
      if (f.advice) writeLine(io.stdout, `       ${f.advice}`);
    }
    writeLine(
      io.stdout,
      open.length === 0 ? "no problems found" : `${open.length} problem${open.length === 1 ? "" : "s"} found`,
    );
  }
  return open.length === 0 ? EXIT_OK : EXIT_FINDINGS;
}
