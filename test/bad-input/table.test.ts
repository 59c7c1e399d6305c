/**
 * Bad input: bad input gets a clear one-line coded error and changes nothing.
 *
 * One row per case, each run as the real `keyhold` process in a copy of a prepared scratch
 * world. For every row: the exit code (2 usage, 1 failure), the first stderr line
 * `keyhold: <message> [CODE]`, no stored value in anything printed, and a snapshot of the whole
 * world (store, state, host key, input files: names, types, modes, owners, content hashes)
 * proving nothing changed. The audit log is checked exactly: untouched for errors raised before
 * the operation starts, or exactly one appended `result: "error"` record with the row's code for
 * errors inside an audited operation (the log still verifies).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  cpSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { loadSecret, loadSecretSync, SecretError } from "../../src/index.js";
import {
  type CliResult,
  firstErrorLine,
  initWorld,
  KEYHOLD_BIN,
  runCli,
  runCliOk,
  shellQuote,
} from "../support/cli.js";
import { AS_NOBODY, checkoutUnreadableBy } from "../support/checkout.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";
import { diffSnapshots, encodingsOf, snapshotTree } from "../support/tree.js";

/** A copy of the prepared world for one row. */
interface World {
  root: string;
  store: string;
  state: string;
  /** Files a row prepares outside the store and state (plaintext inputs, NAME_FILEs). */
  input: string;
  env: NodeJS.ProcessEnv;
  /** The value stored as credential `a` in every world. */
  value: string;
  /** A value unique to this row (for inputs the row feeds in). */
  canary: string;
}

interface Common {
  title: string;
  setup?: (w: World) => void | Promise<void>;
  /** Expected error code (or one of several, where the layer that notices may vary). */
  code: string | readonly string[];
  /** Extra check on the error message (first line). */
  message?: RegExp;
  /** Values that must appear nowhere in the output; default: the stored value and the row canary. */
  hidden?: (w: World) => string[];
}

interface CliRow extends Common {
  args: (w: World) => string[];
  input?: (w: World) => string | Buffer;
  env?: (w: World) => NodeJS.ProcessEnv;
  /** nobody: run with setpriv as uid/gid 65534; tty: give the CLI a pseudo-terminal with script(1). */
  as?: "nobody" | "tty";
  exit: 1 | 2;
  /** The audited operation that records this failure; absent: the audit log must not change. */
  audit?: { op: string; name?: string };
}

interface LibraryRow extends Common {
  library: (w: World) => Promise<unknown>;
}

type Row = CliRow | LibraryRow;

const AUDIT_FILES = new Set(["state/audit.log", "state/audit.log.head", "state/keyhold.audit-anchor"]);
// The expiring credential's not-after, counted from when keyhold starts: long enough that a loaded
// machine still encrypts it before it passes (systemd-creds refuses a not-after already past).
const EXPIRY_SECONDS = 5;
const EXPIRY_WAIT_MS = (EXPIRY_SECONDS + 1) * 1000;

let template: Scratch;
let templateValue: string;
let expiresAt = 0;
let rowNumber = 0;

/** Writes a credential the way an operator would without keyhold: systemd-creds itself. */
function rawEncrypt(w: World, embeddedName: string, value: string, file: string, extra: string[] = []): void {
  const r = spawnSync(
    "systemd-creds",
    ["encrypt", `--name=${embeddedName}`, "--with-key=host", ...extra, "-", file],
    {
      env: w.env,
      input: value,
    },
  );
  assert.equal(r.status, 0, `systemd-creds encrypt failed: ${r.stderr}`);
}

function worldEnv(root: string): NodeJS.ProcessEnv {
  return {
    ...template.env,
    SYSTEMD_CREDENTIAL_SECRET: join(root, "host", "credential.secret"),
    KEYHOLD_STORE: join(root, "credentials.store"),
    KEYHOLD_STATE: join(root, "state"),
  };
}

function copyWorld(): World {
  const root = join(template.root, `row-${++rowNumber}`);
  mkdirSync(root, { mode: 0o700 });
  for (const part of ["host", "credentials.store", "state"]) {
    cpSync(join(template.root, "world", part), join(root, part), {
      recursive: true,
      preserveTimestamps: true,
    });
  }
  // cpSync keeps modes but not necessarily owners; the world is root's, as keyhold init made it.
  const input = join(root, "input");
  mkdirSync(input, { mode: 0o700 });
  return {
    root,
    store: join(root, "credentials.store"),
    state: join(root, "state"),
    input,
    env: worldEnv(root),
    value: templateValue,
    canary: makeCanary("bad-input"),
  };
}

const bigValue = (w: World): Buffer => Buffer.alloc(2 * 1024 * 1024, `${w.canary}.`);

function writeInput(w: World, name: string, data: string | Buffer, mode = 0o600): string {
  const path = join(w.input, name);
  writeFileSync(path, data, { mode });
  chmodSync(path, mode);
  return path;
}

function flipOneByte(path: string): void {
  const bytes = readFileSync(path);
  // The middle of the base64 body: inside the AES-GCM ciphertext, past the header.
  const i = Math.floor(bytes.length / 2);
  bytes[i] = bytes[i] === 0x41 ? 0x42 : 0x41;
  writeFileSync(path, bytes);
}

const rows: Row[] = [
  // ---- names (systemd's credential_name_valid) ----
  {
    title: "set: name with ':'",
    args: () => ["set", "a:b"],
    input: (w) => w.canary,
    exit: 1,
    code: "INVALID_NAME",
  },
  {
    title: "set: name with '/'",
    args: () => ["set", "a/b"],
    input: (w) => w.canary,
    exit: 1,
    code: "INVALID_NAME",
  },
  {
    title: "set: name '..'",
    args: () => ["set", ".."],
    input: (w) => w.canary,
    exit: 1,
    code: "INVALID_NAME",
  },
  { title: "set: name '.'", args: () => ["set", "."], input: (w) => w.canary, exit: 1, code: "INVALID_NAME" },
  {
    title: "set: name of 256 bytes",
    args: () => ["set", "n".repeat(256)],
    input: (w) => w.canary,
    exit: 1,
    code: "INVALID_NAME",
  },
  {
    title: "set: non-ASCII name",
    args: () => ["set", "ключ"],
    input: (w) => w.canary,
    exit: 1,
    code: "INVALID_NAME",
  },
  {
    title: "set: empty name",
    args: () => ["set", ""],
    input: (w) => w.canary,
    exit: 1,
    code: "INVALID_NAME",
  },
  {
    title: "set: name with a control character",
    args: () => ["set", "a\u0001b"],
    input: (w) => w.canary,
    exit: 1,
    code: "INVALID_NAME",
  },
  {
    title: "set: name with a tab",
    args: () => ["set", "a\tb"],
    input: (w) => w.canary,
    exit: 1,
    code: "INVALID_NAME",
  },
  { title: "get: name '..'", args: () => ["get", ".."], exit: 1, code: "INVALID_NAME" },
  {
    title: "rotate: name with '/'",
    args: () => ["rotate", "../a"],
    input: (w) => w.canary,
    exit: 1,
    code: "INVALID_NAME",
  },
  { title: "rm: name with '/'", args: () => ["rm", "a/../a"], exit: 1, code: "INVALID_NAME" },
  {
    title: "run: one bad name in a list",
    args: () => ["run", "a,b:c", "--", "true"],
    exit: 1,
    code: "INVALID_NAME",
  },
  { title: "history: non-ASCII name", args: () => ["history", "clé"], exit: 1, code: "INVALID_NAME" },
  {
    title: "import: name with ':'",
    setup: (w) => void writeInput(w, "plain.txt", w.canary),
    args: (w) => ["import", "x:y", join(w.input, "plain.txt")],
    exit: 1,
    code: "INVALID_NAME",
  },

  // ---- set / rotate / values ----
  {
    title: "set on an existing name",
    args: () => ["set", "a"],
    input: (w) => w.canary,
    exit: 1,
    code: "CREDENTIAL_EXISTS",
  },
  {
    title: "rotate of a missing name",
    args: () => ["rotate", "missing"],
    input: (w) => w.canary,
    exit: 1,
    code: "CREDENTIAL_NOT_FOUND",
  },
  // ---- rotate --render-timer: refused before anything is written to --write-dir ----
  {
    title: "rotate: --every without --render-timer",
    args: (w) => ["rotate", "a", "--every", "30d", "--from-command", "/bin/true", "--write-dir", w.input],
    exit: 2,
    code: "USAGE",
  },
  {
    title: "rotate --render-timer without --from-command",
    args: (w) => ["rotate", "a", "--render-timer", "--every", "30d", "--write-dir", w.input],
    exit: 2,
    code: "USAGE",
  },
  {
    title: "rotate --render-timer: a span without a unit",
    args: (w) => [
      "rotate",
      "a",
      "--render-timer",
      "--every",
      "30",
      "--from-command",
      "/bin/true",
      "--write-dir",
      w.input,
    ],
    exit: 2,
    code: "USAGE",
  },
  {
    title: "rotate --render-timer: a span with a directive after a newline",
    args: (w) => [
      "rotate",
      "a",
      "--render-timer",
      "--every",
      "30d\nOnCalendar=minutely",
      "--from-command",
      "/bin/true",
      "--write-dir",
      w.input,
    ],
    exit: 2,
    code: "USAGE",
  },
  {
    title: "rotate --render-timer of a missing name",
    args: (w) => [
      "rotate",
      "missing",
      "--render-timer",
      "--every",
      "30d",
      "--from-command",
      "/bin/true",
      "--write-dir",
      w.input,
    ],
    exit: 1,
    code: "CREDENTIAL_NOT_FOUND",
  },
  {
    title: "rotate --render-timer of keyhold's own audit key",
    args: (w) => [
      "rotate",
      "keyhold.audit-key",
      "--render-timer",
      "--every",
      "30d",
      "--from-command",
      "/bin/true",
      "--write-dir",
      w.input,
    ],
    exit: 1,
    code: "RESERVED_NAME",
  },
  { title: "set: empty value", args: () => ["set", "b"], input: () => "", exit: 1, code: "EMPTY_VALUE" },
  {
    title: "set: a lone newline is empty",
    args: () => ["set", "b"],
    input: () => "\n",
    exit: 1,
    code: "EMPTY_VALUE",
  },
  {
    title: "rotate: empty value",
    args: () => ["rotate", "a"],
    input: () => "",
    exit: 1,
    code: "EMPTY_VALUE",
  },
  { title: "set: 2 MiB value", args: () => ["set", "b"], input: bigValue, exit: 1, code: "TOO_LARGE" },
  { title: "rotate: 2 MiB value", args: () => ["rotate", "a"], input: bigValue, exit: 1, code: "TOO_LARGE" },
  {
    title: "set: --not-after in the past",
    args: () => ["set", "b", "--not-after=2000-01-01"],
    input: (w) => w.canary,
    exit: 2,
    code: "USAGE",
  },
  {
    title: "set: unreadable --not-after",
    args: () => ["set", "b", "--not-after=tomorrow"],
    input: (w) => w.canary,
    exit: 2,
    code: "USAGE",
  },
  {
    title: "set: unknown --with-key",
    args: () => ["set", "b", "--with-key=magic"],
    input: (w) => w.canary,
    exit: 2,
    code: "USAGE",
  },

  // ---- ciphertext that is not what it should be ----
  {
    title: "get: embedded name MY_API_KEY in file my_api_key (encrypted without --name)",
    setup: (w) => {
      rawEncrypt(w, "MY_API_KEY", w.canary, join(w.store, "my_api_key"));
      chmodSync(join(w.store, "my_api_key"), 0o600);
    },
    args: () => ["get", "my_api_key"],
    exit: 1,
    code: "NAME_MISMATCH",
    message: /MY_API_KEY/,
    audit: { op: "get", name: "my_api_key" },
  },
  {
    title: "run: embedded name mismatch",
    setup: (w) => {
      rawEncrypt(w, "my_key", w.canary, join(w.store, "my_app_key"));
      chmodSync(join(w.store, "my_app_key"), 0o600);
    },
    args: () => ["run", "my_app_key", "--", "true"],
    exit: 1,
    code: "NAME_MISMATCH",
    audit: { op: "run", name: "my_app_key" },
  },
  {
    title: "get: expired (systemd-creds encrypt --not-after=+1s, 2 s later)",
    setup: async () => {
      await sleep(Math.max(0, expiresAt + EXPIRY_WAIT_MS - Date.now()));
    },
    args: () => ["get", "expired_raw"],
    exit: 1,
    code: "EXPIRED",
    audit: { op: "get", name: "expired_raw" },
  },
  {
    title: "run: expired (keyhold set --not-after=+5s, 6 s later)",
    setup: async () => {
      await sleep(Math.max(0, expiresAt + EXPIRY_WAIT_MS - Date.now()));
    },
    args: () => ["run", "expired_set", "--", "true"],
    exit: 1,
    code: "EXPIRED",
    audit: { op: "run", name: "expired_set" },
  },
  {
    title: "get: truncated ciphertext",
    setup: (w) => truncateSync(join(w.store, "a"), Math.floor(statSync(join(w.store, "a")).size / 2)),
    args: () => ["get", "a"],
    exit: 1,
    code: ["DECRYPT_FAILED", "INVALID_FORMAT"],
    audit: { op: "get", name: "a" },
  },
  {
    title: "get: one byte of the ciphertext changed",
    setup: (w) => flipOneByte(join(w.store, "a")),
    args: () => ["get", "a"],
    exit: 1,
    code: ["DECRYPT_FAILED", "INVALID_FORMAT"],
    audit: { op: "get", name: "a" },
  },
  {
    title: "get: plaintext where a credential should be",
    setup: (w) => void writeFileSync(join(w.store, "plain"), `${w.canary}\n`, { mode: 0o600 }),
    args: () => ["get", "plain"],
    exit: 1,
    code: ["DECRYPT_FAILED", "INVALID_FORMAT"],
    audit: { op: "get", name: "plain" },
  },
  {
    title: "rollback to a kept version that was tampered with",
    setup: async (w) => {
      await runCliOk(["rotate", "a"], { env: w.env, input: w.canary });
      flipOneByte(join(w.state, "credentials", "a", "versions", "1"));
    },
    args: () => ["rollback", "a", "--to", "1"],
    exit: 1,
    code: ["DECRYPT_FAILED", "INVALID_FORMAT"],
    audit: { op: "rollback", name: "a" },
  },

  // ---- links, files, modes, owners ----
  {
    title: "get: the store file is a symlink",
    setup: (w) => symlinkSync(join(w.store, "a"), join(w.store, "linked")),
    args: () => ["get", "linked"],
    exit: 1,
    code: "SYMLINK_REFUSED",
    audit: { op: "get", name: "linked" },
  },
  {
    title: "import: the plaintext file is a symlink",
    setup: (w) => {
      writeInput(w, "real.txt", w.canary);
      symlinkSync(join(w.input, "real.txt"), join(w.input, "link.txt"));
    },
    args: (w) => ["import", "b", join(w.input, "link.txt")],
    exit: 1,
    code: "SYMLINK_REFUSED",
  },
  {
    title: "import-env: the .env file is a symlink",
    setup: (w) => {
      writeInput(w, "real.env", `B=${w.canary}\n`);
      symlinkSync(join(w.input, "real.env"), join(w.input, "link.env"));
    },
    args: (w) => ["import-env", join(w.input, "link.env")],
    exit: 1,
    code: "SYMLINK_REFUSED",
  },
  {
    title: "import: a directory",
    args: (w) => ["import", "b", w.input],
    exit: 1,
    code: "NOT_A_FILE",
  },
  {
    title: "import: a file over 1 MiB",
    setup: (w) => void writeInput(w, "big.txt", bigValue(w)),
    args: (w) => ["import", "b", join(w.input, "big.txt")],
    exit: 1,
    code: "TOO_LARGE",
  },
  {
    title: "import: an empty file",
    setup: (w) => void writeInput(w, "empty.txt", ""),
    args: (w) => ["import", "b", join(w.input, "empty.txt")],
    exit: 1,
    code: "EMPTY_VALUE",
  },
  {
    title: "import: a missing file",
    args: (w) => ["import", "b", join(w.input, "nope.txt")],
    exit: 1,
    code: "FILE_NOT_FOUND",
  },
  {
    title: "set: the store directory is open to others",
    setup: (w) => chmodSync(w.store, 0o755),
    args: () => ["set", "b"],
    input: (w) => w.canary,
    exit: 1,
    code: "STORE_INSECURE",
  },
  {
    title: "library: world-readable NAME_FILE",
    setup: (w) => void writeInput(w, "api_key", w.canary, 0o644),
    library: (w) => loadSecret("api_key", { env: { API_KEY_FILE: join(w.input, "api_key") }, cache: false }),
    code: "PERMISSIONS_TOO_OPEN",
  },
  {
    title: "library: group-readable NAME_FILE (sync)",
    setup: (w) => void writeInput(w, "api_key", w.canary, 0o640),
    library: async (w) =>
      loadSecretSync("api_key", { env: { API_KEY_FILE: join(w.input, "api_key") }, cache: false }),
    code: "PERMISSIONS_TOO_OPEN",
  },
  {
    title: "library: NAME_FILE owned by nobody",
    setup: (w) => chownSync(writeInput(w, "api_key", w.canary), 65534, 65534),
    library: (w) => loadSecret("api_key", { env: { API_KEY_FILE: join(w.input, "api_key") }, cache: false }),
    code: "WRONG_OWNER",
  },
  {
    title: "library: relative NAME_FILE",
    setup: (w) => void writeInput(w, "api_key", w.canary),
    library: () => loadSecret("api_key", { env: { API_KEY_FILE: "input/api_key" }, cache: false }),
    code: "PATH_VALIDATION_FAILED",
  },
  {
    title: "library: NAME_FILE with '..'",
    setup: (w) => void writeInput(w, "api_key", w.canary),
    library: (w) =>
      loadSecret("api_key", { env: { API_KEY_FILE: `${w.input}/../input/api_key` }, cache: false }),
    code: "PATH_VALIDATION_FAILED",
  },
  {
    title: "library: NAME_FILE is a symlink",
    setup: (w) => symlinkSync(writeInput(w, "real_key", w.canary), join(w.input, "api_key")),
    library: (w) => loadSecret("api_key", { env: { API_KEY_FILE: join(w.input, "api_key") }, cache: false }),
    code: "SYMLINK_REFUSED",
  },
  {
    title: "library: a credential file over 1 MiB in CREDENTIALS_DIRECTORY",
    setup: (w) => void writeInput(w, "api_key", bigValue(w), 0o400),
    library: (w) => loadSecret("api_key", { env: { CREDENTIALS_DIRECTORY: w.input }, cache: false }),
    code: "TOO_LARGE",
  },
  {
    title: "library: relative CREDENTIALS_DIRECTORY",
    setup: (w) => void writeInput(w, "api_key", w.canary, 0o400),
    library: () => loadSecret("api_key", { env: { CREDENTIALS_DIRECTORY: "input" }, cache: false }),
    code: "PATH_VALIDATION_FAILED",
  },
  {
    title: "library: name '..'",
    library: (w) => loadSecret("..", { env: { CREDENTIALS_DIRECTORY: w.input }, cache: false }),
    code: "INVALID_NAME",
  },

  // ---- missing store, paths ----
  {
    title: "set: the store directory is missing",
    setup: (w) => rmSync(w.store, { recursive: true }),
    args: () => ["set", "b"],
    input: (w) => w.canary,
    exit: 1,
    code: "STORE_NOT_FOUND",
  },
  {
    title: "ls: the store directory is missing",
    setup: (w) => rmSync(w.store, { recursive: true }),
    args: () => ["ls"],
    exit: 1,
    code: "STORE_NOT_FOUND",
  },
  {
    title: "set: the state directory is missing",
    setup: (w) => rmSync(w.state, { recursive: true }),
    args: () => ["set", "b"],
    input: (w) => w.canary,
    exit: 1,
    code: "STORE_NOT_FOUND",
  },
  {
    title: "--store relative",
    args: () => ["ls", "--store", "credstore"],
    exit: 1,
    code: "PATH_VALIDATION_FAILED",
  },
  {
    title: "--store with '..'",
    args: (w) => ["set", "b", "--store", `${w.store}/../credentials.store`],
    input: (w) => w.canary,
    exit: 1,
    code: "PATH_VALIDATION_FAILED",
  },

  // ---- not root ----
  ...(
    [
      "get a",
      "set b",
      "ls",
      "run a -- true",
      "rm a",
      "audit --verify",
      "rotate a",
      "history a",
      "init",
    ] as const
  ).map(
    (command): CliRow => ({
      title: `not root: ${command}`,
      setup: (w) => chmodSync(w.root, 0o711),
      args: () => command.split(" "),
      input: (w) => w.canary,
      as: "nobody",
      exit: 1,
      code: "NOT_ROOT",
    }),
  ),

  // ---- .env files ----
  {
    title: "import-env: a line that is not KEY=value (line number, no value)",
    setup: (w) =>
      void writeInput(w, "bad.env", `GOOD=${makeCanary("good")}\n\nnot an assignment ${w.canary}\n`),
    args: (w) => ["import-env", join(w.input, "bad.env")],
    exit: 1,
    code: "INVALID_FORMAT",
    message: /bad\.env:3:/,
  },
  {
    title: "import-env: unterminated quote (line number, no value)",
    setup: (w) => void writeInput(w, "bad.env", `# header\nGOOD=1\nTOKEN="${w.canary}\n`),
    args: (w) => ["import-env", join(w.input, "bad.env")],
    exit: 1,
    code: "INVALID_FORMAT",
    message: /bad\.env:3:/,
  },
  {
    title: "import-env: text after a quoted value",
    setup: (w) => void writeInput(w, "bad.env", `TOKEN='${w.canary}' trailing ${w.canary}\n`),
    args: (w) => ["import-env", join(w.input, "bad.env")],
    exit: 1,
    code: "INVALID_FORMAT",
    message: /bad\.env:1:/,
  },
  {
    title: "import-env: duplicate key",
    setup: (w) => void writeInput(w, "dup.env", `TOKEN=${makeCanary("first")}\nOTHER=x\nTOKEN=${w.canary}\n`),
    args: (w) => ["import-env", join(w.input, "dup.env")],
    exit: 1,
    code: "INVALID_FORMAT",
    message: /dup\.env:3:.*TOKEN/,
  },
  {
    title: "import-env: empty value",
    setup: (w) => void writeInput(w, "empty.env", `TOKEN=${w.canary}\nEMPTY=\n`),
    args: (w) => ["import-env", join(w.input, "empty.env")],
    exit: 1,
    code: "INVALID_FORMAT",
    message: /empty\.env:2:/,
  },
  {
    title: "import-env: only comments",
    setup: (w) => void writeInput(w, "none.env", `# ${w.canary}\n\n`),
    args: (w) => ["import-env", join(w.input, "none.env")],
    exit: 1,
    code: "INVALID_FORMAT",
  },
  {
    title: "import-env: one entry already stored (all or nothing)",
    setup: (w) => void writeInput(w, "taken.env", `NEW_ONE=${w.canary}\nA=${makeCanary("a")}\n`),
    args: (w) => ["import-env", join(w.input, "taken.env")],
    exit: 1,
    code: "CREDENTIAL_EXISTS",
  },

  // ---- a damaged audit log: an operation that cannot be recorded must not happen ----
  {
    title: "set when the audit log was truncated",
    setup: (w) => truncateSync(join(w.state, "audit.log"), 100),
    args: () => ["set", "b"],
    input: (w) => w.canary,
    exit: 1,
    code: "AUDIT_TAMPERED",
  },
  {
    title: "rotate when the audit log was truncated",
    setup: (w) => truncateSync(join(w.state, "audit.log"), 100),
    args: () => ["rotate", "a"],
    input: (w) => w.canary,
    exit: 1,
    code: "AUDIT_TAMPERED",
  },
  {
    title: "rm when the audit log head was altered",
    setup: (w) => flipOneByte(join(w.state, "audit.log.head")),
    args: () => ["rm", "a"],
    exit: 1,
    code: "AUDIT_TAMPERED",
  },

  // ---- something else where a credential file should be ----
  {
    title: "rotate of a name that is a directory in the store",
    setup: (w) => mkdirSync(join(w.store, "dir"), { mode: 0o700 }),
    args: () => ["rotate", "dir"],
    input: (w) => w.canary,
    exit: 1,
    code: ["NOT_A_FILE", "CREDENTIAL_NOT_FOUND"],
  },
  {
    title: "get of a directory in the store",
    setup: (w) => mkdirSync(join(w.store, "dir"), { mode: 0o700 }),
    args: () => ["get", "dir"],
    exit: 1,
    code: ["NOT_A_FILE", "CREDENTIAL_NOT_FOUND"],
    audit: { op: "get", name: "dir" },
  },

  // ---- versions, options, commands ----
  {
    title: "rollback --to 99",
    args: () => ["rollback", "a", "--to", "99"],
    exit: 1,
    code: "VERSION_NOT_FOUND",
    audit: { op: "rollback", name: "a" },
  },
  {
    title: "rollback with no earlier version",
    args: () => ["rollback", "a"],
    exit: 1,
    code: "VERSION_NOT_FOUND",
    audit: { op: "rollback", name: "a" },
  },
  { title: "rollback --to abc", args: () => ["rollback", "a", "--to", "abc"], exit: 2, code: "USAGE" },
  { title: "rollback --to 0", args: () => ["rollback", "a", "--to", "0"], exit: 2, code: "USAGE" },
  {
    title: "set: unknown option",
    args: () => ["set", "b", "--bogus"],
    input: (w) => w.canary,
    exit: 2,
    code: "USAGE",
  },
  { title: "set: two names", args: () => ["set", "b", "c"], input: (w) => w.canary, exit: 2, code: "USAGE" },
  { title: "run: no command after --", args: () => ["run", "a"], exit: 2, code: "USAGE" },
  { title: "unknown command", args: () => ["frobnicate", "a"], exit: 2, code: "USAGE" },
  {
    title: "rm of a missing name",
    args: () => ["rm", "missing"],
    exit: 1,
    code: "CREDENTIAL_NOT_FOUND",
    audit: { op: "rm", name: "missing" },
  },
  {
    title: "get: to a terminal without --reveal",
    args: () => ["get", "a"],
    as: "tty",
    exit: 1,
    code: "TERMINAL_REFUSED",
  },
];

async function runRow(row: CliRow, w: World): Promise<CliResult> {
  const args = row.args(w);
  const env = { ...w.env, ...(row.env?.(w) ?? {}) };
  const input = row.input?.(w);
  if (row.as === "tty") {
    // script(1) gives the CLI a pseudo-terminal as stdin, stdout and stderr; -e passes its exit code.
    const command = [process.execPath, KEYHOLD_BIN, ...args].map(shellQuote).join(" ");
    const child = spawn("script", ["-q", "-e", "-c", command, "/dev/null"], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.stdin.on("error", () => undefined);
    child.stdin.end();
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on("close", (c, s) => resolve([c, s])),
    );
    // On a terminal stdout and stderr are one stream; the error line comes first.
    const stdoutBytes = Buffer.concat(out);
    const text = stdoutBytes.toString("utf8").replace(/\r\n/g, "\n");
    return { code, signal, stdout: "", stderr: text, stdoutBytes, stderrBytes: Buffer.concat(err) };
  }
  return runCli(args, {
    env,
    ...(input === undefined ? {} : { input }),
    ...(row.as === "nobody" ? { prefix: AS_NOBODY } : {}),
  });
}

function assertHidden(row: Row, w: World, texts: Record<string, string>): void {
  const hidden = row.hidden?.(w) ?? [w.value, w.canary];
  for (const value of hidden) {
    for (const form of encodingsOf(value)) {
      for (const [where, text] of Object.entries(texts)) {
        assert.ok(
          !text.includes(form),
          `${where} contains a secret value (${form === value ? "raw" : "encoded"})`,
        );
      }
    }
  }
}

function expectedCodes(row: Row): readonly string[] {
  return typeof row.code === "string" ? [row.code] : row.code;
}

describe("bad input: a coded one-line error, and nothing changes", () => {
  before(async () => {
    // The prepared world every row copies: init, credential `a`, and two credentials that
    // expire a second after creation (the rows using them wait until they have).
    template = makeScratch("keyhold-bad-input-");
    chmodSync(template.root, 0o711); // the "not root" rows run as nobody below it
    const world = join(template.root, "world");
    mkdirSync(world, { mode: 0o700 });
    mkdirSync(join(world, "host"), { mode: 0o700 });
    const env = worldEnv(world);
    await runCliOk(["init"], { env });
    templateValue = makeCanary("stored");
    await runCliOk(["set", "a"], { env, input: templateValue });
    const store = env.KEYHOLD_STORE as string;
    const r = spawnSync(
      "systemd-creds",
      [
        "encrypt",
        "--name=expired_raw",
        "--with-key=host",
        "--not-after=+1s",
        "-",
        join(store, "expired_raw"),
      ],
      { env, input: makeCanary("expired") },
    );
    assert.equal(r.status, 0, r.stderr.toString());
    chmodSync(join(store, "expired_raw"), 0o600);
    await runCliOk(["set", "expired_set", `--not-after=+${EXPIRY_SECONDS}s`], {
      env,
      input: makeCanary("expired"),
    });
    expiresAt = Date.now();
  });
  after(() => template.cleanup());

  it(`has at least 25 rows (${rows.length})`, () => {
    assert.ok(rows.length >= 25);
    assert.equal(new Set(rows.map((r) => r.title)).size, rows.length, "row titles are unique");
  });

  for (const row of rows) {
    it(row.title, async (t) => {
      const unreadable = "as" in row && row.as === "nobody" ? checkoutUnreadableBy(AS_NOBODY) : undefined;
      if (unreadable !== undefined) return t.skip(unreadable);
      const w = copyWorld();
      await row.setup?.(w);
      const skipAudit = (rel: string) => AUDIT_FILES.has(rel);
      const before = snapshotTree(w.root, skipAudit);
      const readAudit = (file: string) => {
        try {
          return readFileSync(join(w.state, file));
        } catch {
          return Buffer.alloc(0);
        }
      };
      const logBefore = readAudit("audit.log");
      const headBefore = readAudit("audit.log.head");
      const anchorBefore = readAudit("keyhold.audit-anchor");

      if ("library" in row) {
        let thrown: unknown;
        try {
          await row.library(w);
        } catch (err) {
          thrown = err;
        }
        assert.ok(thrown instanceof SecretError, `expected a SecretError, got ${String(thrown)}`);
        assert.ok(
          expectedCodes(row).includes(thrown.code),
          `code ${thrown.code}, expected ${expectedCodes(row).join(" or ")}`,
        );
        assert.doesNotMatch(thrown.message, /\n/, "one line");
        assert.doesNotMatch(thrown.message, /\.$/, "no final period");
        if (row.message) assert.match(thrown.message, row.message);
        assertHidden(row, w, { message: thrown.message, hint: thrown.hint ?? "", stack: thrown.stack ?? "" });
      } else {
        const r = await runRow(row, w);
        const { message, code } = firstErrorLine(r.stderr);
        assert.ok(
          expectedCodes(row).includes(code),
          `code ${code}, expected ${expectedCodes(row).join(" or ")}: ${r.stderr.trim()}`,
        );
        assert.equal(r.code, row.exit, `exit code (stderr: ${r.stderr.trim()})`);
        if (row.message) assert.match(message, row.message);
        // Every further stderr line is a hint or a note in keyhold's voice, never a dump.
        for (const line of r.stderr.trimEnd().split("\n").slice(1)) assert.match(line, /^keyhold: /);
        assertHidden(row, w, { stdout: r.stdout, stderr: r.stderr });
      }

      const diffs = diffSnapshots(before, snapshotTree(w.root, skipAudit));
      assert.deepEqual(diffs, [], "the world changed");
      const logAfter = readAudit("audit.log");
      const audit = "args" in row ? row.audit : undefined;
      if (audit === undefined) {
        assert.ok(logAfter.equals(logBefore), "the audit log changed");
        assert.ok(readAudit("audit.log.head").equals(headBefore), "the audit head changed");
        assert.ok(readAudit("keyhold.audit-anchor").equals(anchorBefore), "the audit anchor changed");
      } else {
        assert.ok(
          logAfter.subarray(0, logBefore.length).equals(logBefore),
          "earlier audit records are untouched",
        );
        const added = logAfter.subarray(logBefore.length).toString("utf8").trimEnd().split("\n");
        assert.equal(added.length, 1, "exactly one audit record for the failed operation");
        const record = JSON.parse(added[0] as string) as Record<string, unknown>;
        assert.equal(record.op, audit.op);
        assert.equal(record.result, "error");
        assert.ok(expectedCodes(row).includes(record.code as string), `audit code ${String(record.code)}`);
        if (audit.name !== undefined) assert.equal(record.name, audit.name);
        assertHidden(row, w, { "audit record": added[0] as string });
        const verify = await runCli(["audit", "--verify"], { env: w.env });
        assert.equal(verify.code, 0, `audit --verify: ${verify.stdout}${verify.stderr}`);
      }
    });
  }
});

describe("bad input that is not an error", () => {
  it("a world-readable file in the store is listed as perms-too-open by ls and found by doctor", async () => {
    const s = await initWorld("keyhold-bad-input-ls-");
    try {
      // What `systemd-creds encrypt` leaves under a 022 umask: a 0644 ciphertext in the store.
      const file = join(s.store, "loose");
      const r = spawnSync("systemd-creds", ["encrypt", "--name=loose", "--with-key=host", "-", file], {
        env: s.env,
        input: makeCanary("loose"),
      });
      assert.equal(r.status, 0, r.stderr.toString());
      chmodSync(file, 0o644);
      const ls = await runCli(["ls", "--json"], { env: s.env });
      assert.equal(ls.code, 0, `ls --json failed: ${ls.stderr}`);
      const entries = JSON.parse(ls.stdout) as { name: string; status: string }[];
      assert.equal(entries.find((e) => e.name === "loose")?.status, "perms-too-open");
      const doctor = await runCli(["doctor", "--json", "--units", s.root], { env: s.env });
      assert.equal(doctor.code, 3, `doctor: ${doctor.stderr}`);
      const report = JSON.parse(doctor.stdout) as { findings: { kind: string; subject: string }[] };
      assert.ok(
        report.findings.some((f) => f.kind === "file-mode" && f.subject.endsWith("loose")),
        doctor.stdout,
      );
    } finally {
      s.cleanup();
    }
  });

  it("import migrates a world-readable plaintext file (the usual state of the file being migrated)", async () => {
    const s = await initWorld("keyhold-bad-input-import-");
    try {
      const value = makeCanary("import-0644");
      const file = join(s.root, "api_key.txt");
      writeFileSync(file, `${value}\n`, { mode: 0o644 });
      chmodSync(file, 0o644);
      const r = await runCli(["import", "migrated", file, "--shred"], { env: s.env });
      assert.equal(r.code, 0, `import of a 0644 file failed: ${r.stderr}`);
      const got = await runCliOk(["get", "migrated"], { env: s.env });
      assert.equal(got.stdout, value);
    } finally {
      s.cleanup();
    }
  });
});
