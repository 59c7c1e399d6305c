import {
  assertUserCredential,
  readMeta,
  readValue,
  resolveNotAfter,
  type StoreLayout,
} from "../credstore/index.js";
import { assertCredentialName, CREDENTIAL_VALUE_MAX } from "../systemd/index.js";
import { layoutFrom, WITH_KEYS } from "./args.js";
import { defineCommand, type NoOptions, type OptionTable, type RunContext, JSON_OUTPUT } from "./command.js";
import {
  type CliIo,
  EXIT_FINDINGS,
  EXIT_OK,
  usageError,
  writeJson,
  writeLine,
  refuseTerminal,
  writeSecret,
} from "./io.js";
import { CredentialStore } from "../app/credentials.js";
import { valueCommandWords, valueFromCommand } from "../app/value-command.js";
import { credentialRotationTimerUnits, writeUnitFiles } from "../app/rotation-timer.js";
import { rotationSpan } from "../units/index.js";
import { restartOptions, rolloutFrom, secondsArg } from "./restart.js";

/*
 * The credstore commands (`run` is in run.ts): each parses its arguments, calls one
 * CredentialStore method (src/app/credentials.ts: the checks, the audit record, the fingerprints)
 * and prints. A NAME is checked before the store is resolved from the options, so a bad name is
 * the error reported first, also when --with-key or --not-after is wrong too.
 */

/** The credential store the options name (--store, --state, --with-key, else the environment's). */
function storeFrom(
  values: { store?: string; state?: string; "with-key"?: string },
  io: CliIo,
): CredentialStore {
  return new CredentialStore(layoutFrom(values, io));
}

/** The NAME positional, checked before anything else (the service checks it again). */
function nameArg(positionals: string[]): string {
  const name = positionals[0] as string;
  assertCredentialName(name);
  return name;
}

/** "2025-01-02T03:04:05.678Z" as "2025-01-02 03:04:05". */
const stamp = (iso: string): string => iso.slice(0, 19).replace("T", " ");

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
  run: async ({ values, io }: RunContext<NoOptions>) => {
    const store = storeFrom(values, io);
    const changed = await store.init();
    for (const line of changed) writeLine(io.stdout, line);
    writeLine(
      io.stdout,
      changed.length === 0
        ? `store ${store.layout.store} already initialised`
        : `store ready: ${store.layout.store}`,
    );
    return EXIT_OK;
  },
});

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
    run: async ({ values, positionals, io }: RunContext<typeof SET_OPTIONS>) => {
      const name = nameArg(positionals);
      const notAfter = values["not-after"];
      if (notAfter !== undefined) resolveNotAfter(notAfter);
      const store = storeFrom(values, io);
      // The value is read (prompted for) only once every check has passed.
      const read = () => readValue(name, io, { keepNewline: values["keep-newline"] ?? false });
      const v = await store[op](name, read, { notAfter });
      writeLine(
        io.stdout,
        `${op === "set" ? "stored" : "rotated"} ${name} (version ${v.version}, ${v.size} bytes)`,
      );
      if (op === "rotate") await noteStale(store, name, io);
      return EXIT_OK;
    },
  });

export const set = setOrRotateCommand("set");

const ROTATE_OPTIONS = {
  ...SET_OPTIONS,
  ...restartOptions("NAME"),
  "from-command": {
    type: "string",
    arg: "CMD",
    description:
      "the new value is CMD's stdout (absolute program, words split like --exec, no shell; at most the value limit; a failing CMD changes nothing)",
  },
  "if-older-than": {
    type: "string",
    arg: "SPAN",
    description:
      "rotate only once the current version has been current for SPAN (e.g. 30d); else change nothing (the timer's check)",
  },
  "render-timer": {
    type: "boolean",
    description:
      "print (or write) a systemd service and timer that rotate NAME --every SPAN with --from-command CMD",
  },
  every: {
    type: "string",
    arg: "SPAN",
    description: "with --render-timer: how often, a time span from 1h to 10y (30d, 12h, 1w)",
  },
  exec: {
    type: "string",
    arg: "PATH",
    complete: "file",
    description:
      "with --render-timer: the keyhold command, an absolute path first (default: this keyhold, run by this node)",
  },
  "write-dir": {
    type: "string",
    arg: "DIR",
    complete: "directory",
    description: "with --render-timer: write the units to DIR",
  },
} as const satisfies OptionTable;

export const rotate = defineCommand({
  name: "rotate",
  synopsis:
    "rotate NAME [--from-command CMD] [--if-older-than SPAN] [--restart [--settle SECONDS] [--timeout SECONDS] [--no-rollback]] [--not-after TIME] [--with-key auto|host|tpm2|host+tpm2] [--keep-newline] | rotate NAME --render-timer --every SPAN --from-command CMD [--restart …] [--exec PATH] [--write-dir DIR]",
  help: `Replaces NAME's value (a new value; the key that encrypts it is the host's), keeping the earlier versions encrypted (see history, rollback).
Running units keep the value they loaded until they restart: rotate names them.
--restart restarts each of them, one at a time, and waits until it is healthy (its start and
ExecStartPost= health check succeed and it stays active for --settle seconds). If one fails, the
previous version is made current again and the units already restarted go back to it (exit 1);
--no-rollback leaves the new version. A rotation a killed keyhold left is finished first
(docs/units.md, "Rotation with restart"). --from-command CMD takes the value from CMD's stdout
instead of stdin: run without a shell, stdin /dev/null; a failing CMD changes nothing.
--if-older-than SPAN rotates only once the current version has been current for SPAN.
--render-timer prints a systemd service and timer (or writes them to --write-dir DIR) that do
this rotation on schedule: --every SPAN (1h to 10y, e.g. 30d), --from-command CMD required, the
--restart options passed on; the service runs --exec PATH (default: this keyhold) as root
in a sandbox that can write only the store and the state directory (docs/units.md, "Scheduled
rotation"). For example:
  sudo keyhold rotate stripe_key --render-timer --every 30d --restart \\
    --from-command '/usr/local/bin/mint-key --service billing' --write-dir /etc/systemd/system
  sudo systemctl daemon-reload && sudo systemctl enable --now keyhold-rotate-stripe_key.timer${VALUE_LIMIT}${dashName("rotate")}`,
  options: ROTATE_OPTIONS,
  positionals: 1,
  run: rotateCommand,
});

async function rotateCommand({
  values,
  positionals,
  io,
}: RunContext<typeof ROTATE_OPTIONS>): Promise<number> {
  const name = nameArg(positionals);
  const notAfter = values["not-after"];
  if (notAfter !== undefined) resolveNotAfter(notAfter);
  const rollout = rolloutFrom(values, io);
  const fromCommand = values["from-command"];
  if (values["render-timer"]) return renderTimer(name, values, io);
  for (const option of ["every", "exec", "write-dir"] as const)
    if (values[option] !== undefined) throw usageError(`--${option} goes with --render-timer`);
  const olderThan = values["if-older-than"];
  if (olderThan !== undefined) rotationSpan("--if-older-than", olderThan);
  if (fromCommand !== undefined) valueCommandWords(fromCommand);
  const store = storeFrom(values, io);
  if (olderThan !== undefined) {
    const young = youngerThan(store.layout, name, olderThan);
    if (young !== undefined) {
      writeLine(io.stdout, young);
      return EXIT_OK;
    }
  }
  const keepNewline = values["keep-newline"] ?? false;
  const read = () =>
    fromCommand === undefined
      ? readValue(name, io, { keepNewline })
      : valueFromCommand(name, fromCommand, { env: io.env, keepNewline });
  if (rollout === undefined) {
    const v = await store.rotate(name, read, { notAfter });
    writeLine(io.stdout, `rotated ${name} (version ${v.version}, ${v.size} bytes)`);
    await noteStale(store, name, io);
    return EXIT_OK;
  }
  const { rotateAndRestart, rolloutFailure } = await import("../app/rollout.js");
  const { version, result } = await rotateAndRestart(store, name, read, {
    ...rollout,
    ...(notAfter === undefined ? {} : { notAfter }),
  });
  if (result.outcome === "done") {
    writeLine(
      io.stdout,
      `rotated ${name} (version ${version?.version}, ${version?.size} bytes); ${result.restarted.length} unit${result.restarted.length === 1 ? "" : "s"} restarted and healthy`,
    );
    return EXIT_OK;
  }
  throw rolloutFailure(name, result);
}

/**
 * --if-older-than: why NAME is not rotated yet (its current version became current less than SPAN
 * ago), or undefined when it is due. A credential without history (stored before keyhold kept any)
 * is due: the rotation starts its history.
 */
function youngerThan(l: StoreLayout, name: string, span: string): string | undefined {
  assertUserCredential(l, name, "rotate");
  const meta = readMeta(l, name);
  if (meta === undefined) return undefined;
  const since = Date.parse(meta.updated);
  if (!Number.isFinite(since) || Date.now() - since >= rotationSpan("--if-older-than", span) * 1000)
    return undefined;
  return `${name}: version ${meta.current} has been current since ${stamp(meta.updated)} UTC, less than ${span}: not rotated`;
}

/** --render-timer: prints the service and timer that run this rotation on schedule, or writes them to --write-dir. */
function renderTimer(name: string, values: RunContext<typeof ROTATE_OPTIONS>["values"], io: CliIo): number {
  const command = values["from-command"];
  if (values.every === undefined) throw usageError("--render-timer needs --every SPAN (e.g. 30d)");
  if (command === undefined)
    throw usageError(
      "--render-timer needs --from-command CMD: a scheduled rotation has no one to type the value",
    );
  if (values["if-older-than"] !== undefined)
    throw usageError("--if-older-than does not go with --render-timer: the timer's service passes --every");
  const restart = values.restart
    ? {
        rollback: !values["no-rollback"],
        ...(values.settle === undefined ? {} : { settleS: secondsArg("settle", values.settle, 0) / 1000 }),
        ...(values.timeout === undefined
          ? {}
          : { timeoutS: secondsArg("timeout", values.timeout, 0) / 1000 }),
      }
    : undefined;
  const l = layoutFrom(values, io);
  const request = {
    name,
    every: values.every,
    command,
    ...(restart === undefined ? {} : { restart }),
    ...(values["not-after"] === undefined ? {} : { notAfter: values["not-after"] }),
    keepNewline: values["keep-newline"] ?? false,
    ...(values.exec === undefined ? {} : { exec: values.exec }),
  };
  const files = credentialRotationTimerUnits(l, request);
  const dir = values["write-dir"];
  if (dir === undefined) {
    io.stdout.write(files.map((f) => f.content).join("\n"));
    return EXIT_OK;
  }
  writeUnitFiles(dir, files);
  writeLine(io.stdout, `wrote ${files.map((f) => f.path).join(" and ")} to ${dir}`);
  return EXIT_OK;
}

/** After a plain rotate: the running units still holding the previous value. */
async function noteStale(store: CredentialStore, name: string, io: CliIo): Promise<void> {
  const { runningUsers } = await import("../app/rollout-usage.js");
  const users = await runningUsers(store.layout, name);
  if (users.length === 0) return;
  writeLine(
    io.stderr,
    `keyhold: note: running units still hold the previous value until they restart: ${users.join(", ")}`,
  );
  writeLine(
    io.stderr,
    `keyhold: note: restart them with: sudo keyhold rotate ${name} --restart, or systemctl restart`,
  );
}

const IMPORT_OPTIONS = { ...SET_OPTIONS, shred: SHRED } as const satisfies OptionTable;

export const importFile = defineCommand({
  name: "import",
  synopsis: "import NAME FILE [--shred] [--not-after TIME] [--keep-newline]",
  help: `Encrypts a plaintext FILE as NAME. With --shred, the file is overwritten and removed\nonly after the new credential decrypts to the same bytes.${VALUE_LIMIT}${dashName("import", " FILE")}`,
  options: IMPORT_OPTIONS,
  positionals: 2,
  completePositionals: "file",
  run: async ({ values, positionals, io }: RunContext<typeof IMPORT_OPTIONS>) => {
    const name = nameArg(positionals);
    const file = positionals[1] as string;
    const notAfter = values["not-after"];
    if (notAfter !== undefined) resolveNotAfter(notAfter);
    const shred = values.shred ?? false;
    await storeFrom(values, io).importFile(name, file, {
      shred,
      notAfter,
      keepNewline: values["keep-newline"],
    });
    writeLine(
      io.stdout,
      `imported ${name} from ${file}${shred ? " (original overwritten and removed)" : ""}`,
    );
    if (!shred)
      writeLine(
        io.stderr,
        `keyhold: note: ${file} still holds the value in plaintext; remove it or rerun with --shred`,
      );
    return EXIT_OK;
  },
});

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
  run: async ({ values, positionals, io }: RunContext<typeof IMPORT_ENV_OPTIONS>) => {
    const file = positionals[0] as string;
    const entries = await storeFrom(values, io).importEnv(file, { shred: values.shred });
    if (values.json) {
      writeJson(io, entries);
      return EXIT_OK;
    }
    const present = entries.filter((e) => e.alreadyStored).map((e) => e.name);
    const imported = entries.length - present.length;
    const already =
      present.length === 0
        ? ""
        : ` (${present.length} already stored with these values: ${present.join(", ")})`;
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
  },
});

const GET_OPTIONS = {
  reveal: { type: "boolean", description: "print the value even to a terminal" },
} as const satisfies OptionTable;

export const get = defineCommand({
  name: "get",
  synopsis: "get NAME [--reveal]",
  help: `Writes NAME's value to stdout for a pipe. Refuses a terminal unless --reveal.${dashName("get")}`,
  options: GET_OPTIONS,
  positionals: 1,
  run: async ({ values, positionals, io }: RunContext<typeof GET_OPTIONS>) => {
    const name = nameArg(positionals);
    refuseTerminal(io, values.reveal, "a credential", `pipe it (keyhold get ${name} | …) or add --reveal`);
    await writeSecret(io, await storeFrom(values, io).get(name, { reveal: values.reveal ?? false }));
    return EXIT_OK;
  },
});

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
  const store = storeFrom(values, io);
  const { markStale } = await import("../app/rollout-usage.js");
  const { entries } = await markStale(store.layout, await store.list({ check: values.check ?? false }));
  if (values.json) {
    writeJson(io, entries);
    return EXIT_OK;
  }
  if (entries.length === 0) {
    writeLine(io.stdout, `no credentials in ${store.layout.store}`);
    return EXIT_OK;
  }
  const rows = entries.map((e) => [
    e.name,
    e.status,
    e.size === null ? "-" : String(e.size),
    e.keyType ?? "-",
    e.version === null ? "-" : String(e.version),
    e.created == null ? "-" : stamp(e.created),
    e.notAfter == null ? "-" : stamp(e.notAfter),
    `${e.uid}:${e.gid} ${e.mode}`,
  ]);
  printTable(io, ["NAME", "STATUS", "SIZE", "KEY", "VERSION", "CREATED", "NOT-AFTER", "OWNER MODE"], rows);
  const stale = entries.filter((e) => e.staleIn !== undefined);
  if (stale.length > 0)
    writeLine(
      io.stdout,
      "\nrunning units that started before the current version was written (they hold an earlier one):",
    );
  for (const e of stale)
    writeLine(
      io.stdout,
      `  ${e.name}: ${e.staleIn?.join(", ")} (see: keyhold status ${e.name}; restart: keyhold rotate ${e.name} --restart)`,
    );
  const own = entries.filter((e) => e.keyhold !== null);
  if (own.length > 0)
    writeLine(io.stdout, "\nkeyhold's own credentials (set, rotate, import, rollback and rm refuse them):");
  for (const e of own)
    writeLine(io.stdout, `  ${e.name}: ${e.keyhold?.role}; managed by ${e.keyhold?.managedBy}`);
  return EXIT_OK;
}

const STATUS_OPTIONS = { json: JSON_OUTPUT } as const satisfies OptionTable;

export const status = defineCommand({
  name: "status",
  synopsis: "status NAME [--json]",
  help: `Lists the units that load NAME (unit files under /etc, /run and /usr/lib, and systemd's
loaded units), their state, and whether each running one holds the current version: "stale" when
its main process started before the current version was written, "current" when it started after,
"unsure" when it was starting at that moment. The judgement compares wall-clock times. A top-level
drop-in (service.d/) gives NAME to every unit of its type: its running units are listed, the
others counted.${dashName("status")}`,
  options: STATUS_OPTIONS,
  positionals: 1,
  run: async ({ values, positionals, io }: RunContext<typeof STATUS_OPTIONS>) => {
    const name = nameArg(positionals);
    const store = storeFrom(values, io);
    const current = store.currentVersion(name);
    const { findCredentialUsers } = await import("../app/rollout-usage.js");
    const report = await findCredentialUsers(store.layout);
    const users = report.users.get(name) ?? [];
    const typeWide = report.typeWide.get(name) ?? [];
    const { jobsUsing } = await import("../app/rollout-jobs.js");
    const jobs = jobsUsing(users);
    const notes = [...report.notes, ...jobs.notes];
    if (values.json) {
      const units = users.map((u) => {
        const known = jobs.byUnit.get(u.unit);
        return known === undefined ? u : { ...u, jobs: known.jobs, jobConfig: known.config };
      });
      writeJson(io, { name, current, units, typeWide, notes });
      return EXIT_OK;
    }
    writeLine(
      io.stdout,
      current === null
        ? `${name}: stored without keyhold's history (no versions)`
        : `${name}: version ${current} is current`,
    );
    if (users.length === 0 && typeWide.length === 0) writeLine(io.stdout, "no unit loads it");
    else if (users.length > 0)
      printTable(
        io,
        ["UNIT", "AS", "STATE", "STARTED", "HOLDS", "HOW SURE"],
        users.map((u) => [
          u.unit,
          u.id,
          `${u.activeState}/${u.subState}`,
          u.started === null ? "-" : stamp(u.started),
          u.holds ?? "-",
          `${u.basis}${u.needsReload ? " (unit file changed: systemctl daemon-reload)" : ""}`,
        ]),
      );
    for (const w of typeWide)
      writeLine(
        io.stdout,
        `every .${w.unitType} unit loads it through ${w.dropIn}: ${w.running} running (listed), ${w.notRunning} not running (they load the current version when they start)`,
      );
    for (const [unit, known] of jobs.byUnit)
      writeLine(
        io.stdout,
        `${unit} is a job server: ${known.jobs.length === 0 ? "no job" : `jobs ${known.jobs.join(", ")}`} of ${known.config} receive it`,
      );
    for (const n of notes) writeLine(io.stderr, `keyhold: note: ${n}`);
    return EXIT_OK;
  },
});

const HISTORY_OPTIONS = { json: JSON_OUTPUT } as const satisfies OptionTable;

export const history = defineCommand({
  name: "history",
  synopsis: "history NAME [--json]",
  help: `Lists NAME's versions (kept encrypted in the state directory).${dashName("history")}`,
  options: HISTORY_OPTIONS,
  positionals: 1,
  run: async ({ values, positionals, io }: RunContext<typeof HISTORY_OPTIONS>) => {
    const name = nameArg(positionals);
    const meta = storeFrom(values, io).history(name);
    if (values.json) {
      writeJson(io, { name, current: meta.current, versions: meta.versions });
      return EXIT_OK;
    }
    const rows = meta.versions.map((v) => [
      `${v.version === meta.current ? "*" : " "} ${v.version}`,
      stamp(v.created),
      v.origin,
      String(v.size),
      v.notAfter == null ? "-" : stamp(v.notAfter),
    ]);
    printTable(io, ["  VERSION", "CREATED", "ORIGIN", "SIZE", "NOT-AFTER"], rows);
    return EXIT_OK;
  },
});

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
  run: async ({ values, positionals, io }: RunContext<typeof ROLLBACK_OPTIONS>) => {
    const name = nameArg(positionals);
    if (values.to !== undefined && !/^[1-9][0-9]{0,8}$/.test(values.to))
      throw usageError(`--to must be a version number, got ${JSON.stringify(values.to)}`);
    const to = values.to === undefined ? undefined : Number(values.to);
    const v = await storeFrom(values, io).rollback(name, to);
    writeLine(io.stdout, `${name} is now version ${v.version} (from ${stamp(v.created)})`);
    return EXIT_OK;
  },
});

export const rm = defineCommand({
  name: "rm",
  synopsis: "rm NAME",
  help: `Removes NAME and its kept versions, overwriting each file before unlinking it.${dashName("rm")}`,
  options: {},
  positionals: 1,
  run: async ({ values, positionals, io }: RunContext<NoOptions>) => {
    const name = nameArg(positionals);
    const versions = await storeFrom(values, io).remove(name);
    writeLine(io.stdout, `removed ${name} and ${versions} kept version${versions === 1 ? "" : "s"}`);
    return EXIT_OK;
  },
});

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
  help: "Audits the store and the host: modes and owners, embedded names, expiry, plaintext files,\nunits naming missing credentials, running units holding an earlier version (stale), rotations a\nkilled keyhold left unfinished. --fix repairs modes, owners, names and leftovers and finishes\nthose rotations (completed, or rolled back if a unit fails). Exit 3 on findings.",
  options: DOCTOR_OPTIONS,
  positionals: 0,
  run: doctorCommand,
});

async function doctorCommand({ values, io }: RunContext<typeof DOCTOR_OPTIONS>): Promise<number> {
  const store = storeFrom(values, io);
  const { doctorWithRollouts } = await import("../app/rollout-doctor.js");
  const findings = await doctorWithRollouts(store, {
    fix: values.fix ?? false,
    unitDirs: values.units,
    report: (line) => (values.json ? undefined : writeLine(io.stdout, line)),
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
