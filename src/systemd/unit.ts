import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { isAbsolute, posix } from "node:path";
import { DEFAULT_STATE, DEFAULT_STORE } from "../defaults.js";
import { entropyOf, KEY_PREFIXED_WORD, SecretError } from "../secret/index.js";
import { assertCredentialName } from "./names.js";

/**
 * Rendering of systemd units that load keyhold credentials (docs/units.md explains every
 * directive and records the exposure scores measured with `systemd-analyze security`).
 *
 * - standard: a service under a static identity that gets its keys through
 *   `LoadCredentialEncrypted=` instead of an environment file or a key in its configuration;
 * - isolated: the same under a transient UID (`DynamicUser=yes`) inside a full sandbox;
 * - jobserver: `keyhold serve` behind a socket that only one group may connect to, in place of
 *   scripts that developers ran by hand with the keys in their own environment.
 *
 * renderUnit is a pure function: it validates its input and returns file contents; writing,
 * verifying and checking credentials against the store are separate steps (install.ts, cli).
 */

export type UnitMode = "standard" | "isolated" | "jobserver";
export const UNIT_MODES: readonly UnitMode[] = ["standard", "isolated", "jobserver"];

export const JOBSERVER_SERVICE = "keyhold-jobs";
export const JOBSERVER_SOCKET_PATH = "/run/keyhold/jobs.sock";
export const JOBSERVER_DEFAULT_GROUP = "keyhold";
export const JOBSERVER_DEFAULT_CONFIG = "/etc/keyhold/jobs.json";
/** The credential the job server signs its audit records with (docs/audit-format.md). */
export const AUDIT_KEY_CREDENTIAL = "keyhold.audit-key";

/**
 * The job server's own audit key, sealed under the credential name AUDIT_KEY_CREDENTIAL in
 * keyhold's state directory and loaded by its unit. Never the host's key: that one seals root's own
 * log, and a job server's key is only as safe as the server.
 */
export function jobServerAuditKeyPath(state: string, service: string): string {
  return `${state}/${service}.audit-key`;
}
/** The file name of a keyhold drop-in inside SERVICE.service.d/. */
export const DROP_IN_NAME = "50-keyhold-credentials.conf";
/**
 * Where the sockets that answer a unit's vault credential requests live: VAULT_SOCKET_DIR/
 * SERVICE/NS/NAME. Its own tree (0700, root's): nobody else reaches the sockets, and /run/keyhold
 * keeps the mode the job server's socket needs. (The names themselves are no secret: the unit
 * files, readable by everyone, list them.)
 */
export const VAULT_SOCKET_DIR = "/run/keyhold-vault";
/** sun_path holds 108 bytes including the final NUL. */
const SOCKET_PATH_MAX = 107;

/** One credential a unit loads: `LoadCredentialEncrypted=id:path`. */
export interface UnitCredential {
  /** The name the service sees in $CREDENTIALS_DIRECTORY; must equal the embedded name. */
  id: string;
  /** Absolute path of the encrypted file. */
  path: string;
}

export interface UnitOptions {
  /** Unit name without ".service" (a trailing ".service" is accepted and removed). */
  service: string;
  mode: UnitMode;
  /**
   * The command line, one string: words split on blanks, '…' and "…" quote. The first word is an
   * absolute path. Required for standard and isolated full units; the job server defaults to
   * `node <keyholdRoot>/bin/keyhold.js serve --config <config>`.
   */
  exec?: string;
  /**
   * Whether a path exists on this host (the CLI passes `existsSync`): an absolute argument of
   * `exec` that exists here but would be hidden by the sandbox (a script under /tmp given to
   * node) is refused like the program itself. Without it only the program is checked, since an
   * argument under /tmp may name a file the service creates in its own private /tmp.
   */
  pathExists?: (path: string) => boolean;
  /** `NAME` (file `<store>/NAME`) or `ID:FILE` (FILE absolute or relative to the store). */
  credentials?: readonly string[];
  /** Writable paths made visible to the service (`BindPaths=`). */
  bindPaths?: readonly string[];
  /** Read-only paths made visible to the service (`BindReadOnlyPaths=`). */
  bindReadOnlyPaths?: readonly string[];
  /** jobserver: the group whose members may connect to the socket. */
  group?: string;
  /** Hosts the service may reach (`IPAddressAllow=`); everything else is denied. */
  ipAllow?: readonly string[];
  /** Render a drop-in for an existing SERVICE.service instead of a full unit. */
  dropIn?: boolean;
  /** Directory of the encrypted credentials. Default /etc/credstore.encrypted. */
  store?: string;
  /** keyhold's state directory (holds keyhold.audit-key). Default /var/lib/keyhold. */
  state?: string;
  /** jobserver: where keyhold is installed (the directory holding bin/keyhold.js). */
  keyholdRoot?: string;
  /** jobserver: the node binary. Default /usr/bin/node. */
  node?: string;
  /** jobserver: the job configuration file passed to `keyhold serve --config`. */
  config?: string;
  description?: string;
  /**
   * Vault secrets the service receives (docs/units.md "Vault secrets"), each as the credential
   * NAME: systemd asks the secret's `SERVICE-vault-<hash>.socket` at every start and a root instance of
   * `keyhold vault serve-credential` answers with the current value, checked against the vault's
   * policy for plugin SERVICE and audited. Parse and validate the references first (parseRef).
   */
  vault?: readonly { ns: string; name: string }[];
  /** The vault is on PostgreSQL: the answering service needs the network. */
  vaultNetwork?: boolean;
  /**
   * A health check, one command line like `exec`, rendered as ExecStartPost=: it runs in the
   * unit's sandbox with its credentials, and a failing check fails the start (what
   * `keyhold rotate --restart` waits for). It must wait for the service to be ready itself.
   */
  health?: string;
  /**
   * Socket activation for a standard or isolated service: systemd holds the listening socket
   * (SERVICE.socket, ListenStream=ADDRESS) and hands it to the service as fd 3 ($LISTEN_FDS), so
   * connections made while the service restarts wait in the socket's queue instead of being
   * refused. ADDRESS: a port, IPv4:port, [IPv6]:port or an absolute Unix socket path.
   */
  socket?: string;
}

export interface UnitFile {
  /** Path relative to the unit directory (/etc/systemd/system). */
  path: string;
  content: string;
}

export interface RenderedUnits {
  files: UnitFile[];
  /** The unit to enable/start: the socket for the job server, else the service. */
  primary: string;
  /** The credentials the units load from encrypted files, after validation. */
  credentials: UnitCredential[];
  /** The vault secrets the units load, each from its socket (path) in VAULT_SOCKET_DIR. */
  vaultCredentials: VaultUnitCredential[];
  /** The socket units that answer them, to enable with the service. */
  vaultSockets: string[];
}

export interface VaultUnitCredential extends UnitCredential {
  ref: { ns: string; name: string };
}

function usage(message: string, hint?: string): SecretError {
  return new SecretError("USAGE", message, hint === undefined ? {} : { hint });
}

/** Unit names: the characters systemd allows in a unit name prefix, without templates. */
const UNIT_NAME = /^[A-Za-z0-9][A-Za-z0-9:_.\\-]{0,200}$/;

export function normaliseServiceName(service: string): string {
  const name = service.endsWith(".service") ? service.slice(0, -".service".length) : service;
  // A name ending in '\' would end StateDirectory=NAME with one, and systemd joins a line ending
  // in '\' with the next (the directive after it would vanish).
  if (!UNIT_NAME.test(name) || name.includes("..") || name.endsWith("\\")) {
    throw usage(
      `invalid service name ${JSON.stringify(service.slice(0, 80))}`,
      "use letters, digits, '-', '_', '.' or ':'",
    );
  }
  return name;
}

/**
 * A path for BindPaths=, LoadCredentialEncrypted= or ExecStart=: absolute and already normal
 * (no "." or ".." parts, no repeated or trailing "/"), so what the unit names is what the user
 * meant; no blanks, quotes, ':', '%' or control characters, which systemd would read as syntax.
 */
export function assertUnitPath(path: string, what: string): void {
  const shown = JSON.stringify(path.slice(0, 120));
  if (!isAbsolute(path)) throw usage(`${what} must be an absolute path: ${shown}`);
  if (path.split("/").some((part) => part === "." || part === "..")) {
    throw usage(`${what} may not contain "." or ".." parts: ${shown}`);
  }
  if (posix.normalize(path) !== path || (path.length > 1 && path.endsWith("/"))) {
    throw usage(
      `${what} is not a normalised path: ${shown}`,
      `write it as ${posix.normalize(path).replace(/(.)\/$/, "$1")}`,
    );
  }
  if (/[\s"'\\:%;$\x00-\x1f\x7f]/.test(path)) {
    throw usage(`${what} contains a character systemd would read as syntax: ${shown}`);
  }
}

/** LoadCredentialEncrypted= expands specifiers: a '%' in a name (valid for systemd) is written as "%%". */
function loadCredentialLine(c: { id: string; path: string }): string {
  return `LoadCredentialEncrypted=${c.id.replaceAll("%", "%%")}:${c.path.replaceAll("%", "%%")}`;
}

function resolveCredential(spec: string, store: string): UnitCredential {
  const colon = spec.indexOf(":");
  const id = colon < 0 ? spec : spec.slice(0, colon);
  assertCredentialName(id);
  // systemd strips a value's outer blanks, so " key" would load a different name and file.
  if (id !== id.trim())
    throw usage(`credential name ${JSON.stringify(id)} begins or ends with a blank, which a unit file cannot say`);
  if (colon < 0) return { id, path: `${store}/${id}` };
  const file = spec.slice(colon + 1);
  if (file.length === 0) throw usage(`credential ${id}: empty file after ':'`);
  if (file.startsWith("/")) {
    assertUnitPath(file, `credential file for ${id}`);
    return { id, path: file };
  }
  // A bare file name inside the store: it is itself a valid credential name, so no '/'.
  assertCredentialName(file);
  const path = `${store}/${file}`;
  assertUnitPath(path, `credential file for ${id}`);
  return { id, path };
}

/**
 * Splits a command line into words the way a shell would for plain words and '…' / "…" quotes
 * (no expansions), refusing what a unit file cannot say unambiguously.
 */
export function splitCommandLine(line: string): string[] {
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line))
    throw usage("--exec may not contain newlines or control characters");
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line.charAt(i);
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === "\\" && (line.charAt(i + 1) === '"' || line.charAt(i + 1) === "\\"))
        word += line.charAt(++i);
      else word += ch;
    } else if (ch === " " || ch === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      inWord = true;
      if (ch === "'" || ch === '"') quote = ch;
      else if (ch === "\\") {
        const next = line.charAt(i + 1);
        if (next === "") throw usage("--exec ends with a lone backslash");
        word += next;
        i++;
      } else word += ch;
    }
  }
  if (quote !== undefined) throw usage(`--exec has an unterminated ${quote} quote`);
  if (inWord) words.push(word);
  // A quoted or escaped tab would put a raw control character in the unit file.
  if (words.some((w) => w.includes("\t"))) throw usage("--exec may hold a tab only between words");
  return words;
}

// A canary of the test suite (kh-…) counts as a key too, whatever its letters happen to be.
const TEST_CANARY = /^kh-[a-z]+-[A-Za-z0-9_-]{16,}$/;

/**
 * Whether a command word looks like a key rather than a path, flag or plain word, or holds one: an
 * escaped blank (`a\ KEY`) or a quote (`"Bearer KEY"`) makes one word of several pieces, and the
 * key is in the unit file and the process's argv all the same, so each piece is judged too.
 */
export function looksLikeSecret(word: string): boolean {
  return [word, ...word.split(/[\s"'`,;:]+/)].some(looksLikeSecretPiece);
}

function looksLikeSecretPiece(word: string): boolean {
  const value = word.includes("=") ? word.slice(word.indexOf("=") + 1) : word;
  // Well-known key formats (the scanner's prefixes, src/secret/secret-words.ts), then randomness.
  if (KEY_PREFIXED_WORD.test(value) || TEST_CANARY.test(value)) return true;
  if (value.length < 24 || value.includes("/") || value.includes(".")) return false;
  if (!/^[A-Za-z0-9+_=-]+$/.test(value)) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((re) => re.test(value)).length;
  return classes >= 2 && /[0-9]/.test(value) && entropyOf(value) >= 3.8;
}

/**
 * Validates a command line and returns it as ExecStart= syntax. A unit file is world-readable and
 * /proc/PID/cmdline is readable by every user: a word that looks like a key is refused, and its
 * value is never repeated in the error.
 */
export function renderExecLine(line: string): string {
  const words = splitCommandLine(line);
  const first = words[0];
  if (first === undefined) throw usage("--exec is empty");
  assertUnitPath(first, "the first word of --exec");
  words.forEach((w, i) => {
    if (looksLikeSecret(w) || secretOptionValue(words[i - 1], w)) {
      throw new SecretError("SECRET_IN_COMMAND", `word ${i + 1} of --exec looks like a secret value`, {
        hint: "pass keys with --cred and read them from $CREDENTIALS_DIRECTORY: unit files and /proc/PID/cmdline are readable by every user",
      });
    }
    if (w === ";")
      throw usage(`word ${i + 1} of --exec is a lone ';', which systemd reads as a command separator`);
  });
  return words.map(quoteExecWord).join(" ");
}

// Options whose value is a secret by name: `--token VALUE`, `--api-key=VALUE`, `--password=VALUE`.
const SECRET_OPTION =
  /^--?([a-z]+[-_])*(api[-_]?key|token|secret|password|passwd|pass|auth|access[-_]?key|client[-_]?secret)$/i;

/** Whether `word` (or its `=value` part) is the value of an option named like a secret. */
function secretOptionValue(previous: string | undefined, word: string): boolean {
  const isValue = (v: string) => v.length > 0 && !v.startsWith("/") && !v.includes("%d");
  const eq = word.indexOf("=");
  if (word.startsWith("-") && eq > 0)
    return SECRET_OPTION.test(word.slice(0, eq)) && isValue(word.slice(eq + 1));
  return previous !== undefined && SECRET_OPTION.test(previous) && !word.startsWith("-") && isValue(word);
}

/**
 * One word of ExecStart=: '$' is escaped and so is every '%' except `%d`, systemd's specifier for
 * the credentials directory (`--key-file=%d/my_api_key`), so systemd neither expands variables nor
 * other specifiers.
 */
function quoteExecWord(word: string): string {
  const escaped = word
    .split("%d")
    .map((part) => part.replaceAll("%", "%%"))
    .join("%d")
    .replaceAll("$", "$$$$");
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) && word.length > 0) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

const IP_KEYWORDS = new Set(["any", "localhost", "link-local", "multicast"]);

export function assertIpAllow(entry: string): void {
  if (IP_KEYWORDS.has(entry)) return;
  const [address = "", prefix, extra] = entry.split("/");
  const family = isIP(address);
  const max = family === 4 ? 32 : 128;
  const ok =
    family !== 0 &&
    extra === undefined &&
    (prefix === undefined || (/^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= max));
  if (!ok) {
    throw usage(
      `invalid --ip-allow ${JSON.stringify(entry.slice(0, 80))}`,
      "give an address or CIDR (192.0.2.10, 10.0.0.0/8, 2001:db8::/32) or localhost",
    );
  }
}

const GROUP_NAME = /^[a-z_][a-z0-9_-]{0,30}\$?$/;

/** What a sandboxed service may not change about the host: kernel settings, cgroups, clock, name. */
const KERNEL_PROTECTIONS = [
  "ProtectKernelTunables=yes",
  "ProtectKernelModules=yes",
  "ProtectKernelLogs=yes",
  "ProtectControlGroups=yes",
  "ProtectClock=yes",
  "ProtectHostname=yes",
] as const;

/** Kernel features a sandboxed service has no use for. */
const RESTRICTIONS = [
  "RestrictNamespaces=yes",
  "RestrictRealtime=yes",
  "RestrictSUIDSGID=yes",
  "LockPersonality=yes",
] as const;

/**
 * What the job server needs beyond the shared sandbox to give each run namespaces of its own
 * (src/jobs/sandbox.ts): creating user, mount, PID and IPC namespaces, and mount(2) inside them.
 * Neither gives the server anything outside: it holds no capability in the unit's own namespaces.
 */
const JOB_NAMESPACES = {
  restrict: "RestrictNamespaces=user mnt pid ipc",
  syscalls: "SystemCallFilter=@mount",
} as const;

/**
 * The sandbox shared by isolated services and the job server. ProcSubset=pid is left out: it hides
 * /proc/cpuinfo and /proc/meminfo, and then Node's os.cpus() returns [] and `free` fails (measured
 * in the container), which breaks worker pools sized by the CPU count.
 */
function sandboxDirectives(
  protectHome: "yes" | "tmpfs",
  umask: string,
  network: boolean,
  jobNamespaces: boolean,
): string[] {
  return [
    "# The sandbox (docs/units.md says why each line is here and what it costs)",
    "NoNewPrivileges=yes",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "PrivateUsers=yes",
    "PrivateIPC=yes",
    "ProtectSystem=strict",
    `ProtectHome=${protectHome}`,
    ...KERNEL_PROTECTIONS,
    "ProtectProc=invisible",
    ...(jobNamespaces
      ? [
          "# Each job runs in user, mount, PID and IPC namespaces of its own (docs/jobserver.md)",
          JOB_NAMESPACES.restrict,
          ...RESTRICTIONS.filter((r) => !r.startsWith("RestrictNamespaces=")),
        ]
      : RESTRICTIONS),
    "RemoveIPC=yes",
    "KeyringMode=private",
    "DevicePolicy=closed",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
    ...(jobNamespaces ? [JOB_NAMESPACES.syscalls] : []),
    "SystemCallFilter=~@privileged @resources",
    "SystemCallErrorNumber=EPERM",
    ...(network
      ? ["RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"]
      : [
          "# No host to reach was given (--ip-allow): no network at all, Unix sockets only",
          "PrivateNetwork=yes",
          "RestrictAddressFamilies=AF_UNIX",
        ]),
    "# MemoryDenyWriteExecute=yes is left out on purpose: V8's JIT needs writable+executable memory",
    `UMask=${umask}`,
  ];
}

/** Paths that ProtectHome= hides; a bind below one of them needs ProtectHome=tmpfs. */
function underHome(path: string): boolean {
  return ["/home", "/root", "/run/user"].some((dir) => path === dir || path.startsWith(`${dir}/`));
}

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * Directories the rendered sandboxes replace with empty ones of their own: PrivateTmp=yes (/tmp,
 * /var/tmp) and PrivateDevices=yes (/dev). What ExecStart= needs from there is refused rather
 * than bound back in.
 */
const PRIVATE_TMP = [
  { dir: "/tmp", by: "PrivateTmp=yes" },
  { dir: "/var/tmp", by: "PrivateTmp=yes" },
] as const;
const SANDBOX_REPLACED = [...PRIVATE_TMP, { dir: "/dev", by: "PrivateDevices=yes" }] as const;

/**
 * Refuses a path the sandboxed ExecStart= needs (the program, keyhold and the node that runs it,
 * the job configuration) that the sandbox would hide: the service would fail at every start
 * ("Cannot find module", 203/EXEC), which `systemd-analyze verify` does not see, and a client of
 * the socket would see only its connection reset. `hidden`: what this unit's sandbox hides.
 */
function assertVisibleInSandbox(
  path: string,
  what: string,
  hint: string,
  hidden: readonly { dir: string; by: string }[],
): void {
  const hit = hidden.find((h) => under(path, h.dir));
  if (hit === undefined) return;
  throw usage(
    `${what} is ${path}, under ${hit.dir}, which the unit's ${hit.by} hides from the service: it could not start`,
    hint,
  );
}

function section(name: string, lines: readonly string[]): string {
  return [`[${name}]`, ...lines].join("\n");
}

function unitText(sections: string[]): string {
  return `# Rendered by keyhold unit. docs/units.md explains every directive.\n${sections.join("\n\n")}\n`;
}

/** Validates the options and renders the unit files; no file system access. */
export function renderUnit(options: UnitOptions): RenderedUnits {
  if (!UNIT_MODES.includes(options.mode)) {
    throw usage(
      `invalid mode ${JSON.stringify(String(options.mode).slice(0, 40))}`,
      "use standard, isolated or jobserver",
    );
  }
  const mode = options.mode;
  const service = normaliseServiceName(options.service);
  const store = options.store ?? DEFAULT_STORE;
  assertUnitPath(store, "the store directory");
  const state = options.state ?? DEFAULT_STATE;
  assertUnitPath(state, "the state directory");

  const credentials = (options.credentials ?? []).map((spec) => resolveCredential(spec, store));
  if (mode === "jobserver" && !options.dropIn && !credentials.some((c) => c.id === AUDIT_KEY_CREDENTIAL)) {
    credentials.push({ id: AUDIT_KEY_CREDENTIAL, path: jobServerAuditKeyPath(state, service) });
  }
  const vaultCredentials = (options.vault ?? []).map((ref) => vaultCredential(service, ref));
  const seen = new Set<string>();
  for (const c of [...credentials, ...vaultCredentials]) {
    if (seen.has(c.id)) throw usage(`credential ${c.id} is given twice`);
    seen.add(c.id);
  }

  const bindPaths = [...(options.bindPaths ?? [])];
  const bindReadOnlyPaths = [...(options.bindReadOnlyPaths ?? [])];
  for (const p of bindPaths) assertUnitPath(p, "--bind");
  for (const p of bindReadOnlyPaths) assertUnitPath(p, "--bind-ro");
  for (const p of [...bindPaths, ...bindReadOnlyPaths]) {
    if (p === "/") throw usage("refusing to bind / into the sandbox");
  }
  const ipAllow = [...(options.ipAllow ?? [])];
  for (const entry of ipAllow) assertIpAllow(entry);

  if (options.group !== undefined && mode !== "jobserver")
    throw usage("--group applies to --mode jobserver only");
  const group = options.group ?? JOBSERVER_DEFAULT_GROUP;
  if (!GROUP_NAME.test(group)) throw usage(`invalid group name ${JSON.stringify(group.slice(0, 40))}`);
  if (mode === "standard" && (bindPaths.length > 0 || bindReadOnlyPaths.length > 0)) {
    // Without ProtectSystem=/ProtectHome= every path is already visible: a bind would only mislead.
    throw usage(
      "--bind and --bind-ro apply to --mode isolated and jobserver",
      "standard services see the whole file system",
    );
  }

  const keyholdRoot = options.keyholdRoot ?? "/opt/keyhold";
  assertUnitPath(keyholdRoot, "the keyhold directory");
  const node = options.node ?? "/usr/bin/node";
  assertUnitPath(node, "the node binary");
  const config = options.config ?? JOBSERVER_DEFAULT_CONFIG;
  assertUnitPath(config, "--config");

  let execStart: string | undefined;
  if (options.exec !== undefined) execStart = renderExecLine(options.exec);
  else if (mode === "jobserver")
    execStart = renderExecLine(`${node} ${keyholdRoot}/bin/keyhold.js serve --config ${config}`);
  else if (!options.dropIn)
    throw usage("--exec is required for a full unit", "or use --drop-in for an existing service");
  if (options.dropIn && options.socket !== undefined)
    throw usage(
      "--socket does not go with --drop-in",
      "render the service with keyhold unit to use socket activation",
    );
  if (options.dropIn && options.exec !== undefined) {
    throw usage("--exec does not go with --drop-in", "a drop-in keeps the service's own ExecStart=");
  }

  // What ExecStart= runs and reads must be visible inside the sandbox: refused where the sandbox
  // replaces the directory, bound read-only through ProtectHome= (the job server's own code and
  // configuration) or named with the --bind-ro it needs (a program of the user's own).
  const moveKeyhold =
    "install keyhold outside /tmp, /var/tmp and /dev (e.g. /opt/keyhold, or npm install -g) and run keyhold unit from there, or pass --keyhold-root";
  const nodeNeed = {
    path: node,
    what: "the node binary",
    hint: "install node outside /tmp, /var/tmp and /dev",
  };
  const keyholdNeed = { path: keyholdRoot, what: "the keyhold directory", hint: moveKeyhold };
  const needs: { path: string; what: string; hint: string }[] = [];
  if ((mode === "isolated" || mode === "jobserver") && !options.dropIn) {
    if (options.exec !== undefined) {
      const [program, ...args] = splitCommandLine(options.exec);
      const hint = "move it to a directory the sandbox shows (e.g. /opt or /usr/local)";
      needs.push({ path: program as string, what: "the program of --exec", hint });
      for (const arg of args) {
        if (arg.startsWith("/") && options.pathExists?.(arg) === true)
          needs.push({ path: posix.normalize(arg), what: "an argument of --exec", hint });
      }
    } else {
      needs.push(nodeNeed, keyholdNeed, {
        path: config,
        what: "--config",
        hint: "keep the job configuration in /etc/keyhold",
      });
    }
  }
  const jobServerHidden =
    mode === "jobserver" ? [{ dir: posix.dirname(JOBSERVER_SOCKET_PATH), by: "InaccessiblePaths=" }] : [];
  for (const need of needs)
    assertVisibleInSandbox(need.path, need.what, need.hint, [...SANDBOX_REPLACED, ...jobServerHidden]);
  // The vault's answering units run keyhold with PrivateTmp=yes and read the store and the state
  // directory (renderVaultAnswerer binds what is under a home itself).
  if ((options.vault ?? []).length > 0) {
    const outsideTmp = `keep it outside /tmp and /var/tmp (the defaults are ${DEFAULT_STORE} and ${DEFAULT_STATE})`;
    for (const need of [
      nodeNeed,
      keyholdNeed,
      { path: store, what: "the store directory", hint: outsideTmp },
      { path: state, what: "the state directory", hint: outsideTmp },
    ])
      assertVisibleInSandbox(
        need.path,
        `${need.what} (read by the vault's answering units)`,
        need.hint,
        PRIVATE_TMP,
      );
  }
  const bound = (path: string) => [...bindPaths, ...bindReadOnlyPaths].some((b) => under(path, b));
  if (mode === "jobserver" && !options.dropIn) {
    for (const { path } of needs) if (underHome(path) && !bound(path)) bindReadOnlyPaths.push(path);
  } else if (mode === "isolated" && !options.dropIn) {
    for (const { path, what } of needs)
      if (underHome(path) && !bound(path))
        throw usage(
          `${what} is ${path}, under a home directory, which the unit's ProtectHome= hides from the service: it could not start`,
          `make it visible with --bind-ro ${posix.dirname(path)}, or move it out of the home directories`,
        );
  }
  const protectHome = [...bindPaths, ...bindReadOnlyPaths].some(underHome) ? "tmpfs" : "yes";

  const serviceLines: string[] = [];
  if (!options.dropIn) serviceLines.push("Type=simple", `ExecStart=${execStart}`);
  if (options.health !== undefined) {
    if (mode === "jobserver") throw usage("--health applies to --mode standard and isolated");
    serviceLines.push(
      "# The health check: a failing one fails the start (keyhold rotate --restart rolls back on it)",
      `ExecStartPost=${renderExecLine(options.health)}`,
    );
  }
  if (mode === "jobserver" && !options.dropIn) {
    serviceLines.push("ExecReload=/usr/bin/kill -s HUP $MAINPID");
  }
  if (credentials.length > 0) {
    serviceLines.push(
      "# Decrypted by systemd into /run/credentials/<unit>/, read through $CREDENTIALS_DIRECTORY",
    );
    for (const c of credentials) serviceLines.push(loadCredentialLine(c));
  }
  const vaultSockets = vaultCredentials.map((c) => `${vaultUnitPrefix(service, c.ref)}.socket`);
  if (vaultCredentials.length > 0) {
    serviceLines.push(
      "# Vault secrets: at each start systemd asks each secret's socket, whose root instance answers",
      "# with the current value, encrypted for this host and bound to the credential's name",
    );
    for (const c of vaultCredentials) serviceLines.push(loadCredentialLine(c));
  }
  const vaultUnitLines =
    vaultSockets.length > 0 ? [`Wants=${vaultSockets.join(" ")}`, `After=${vaultSockets.join(" ")}`] : [];
  const vaultFiles = vaultCredentials.flatMap((c) =>
    renderVaultAnswerer({
      service,
      credential: c,
      exec: `${node} ${keyholdRoot}/bin/keyhold.js vault serve-credential --for ${service} --ref ${c.ref.ns}/${c.ref.name} --store ${store} --state ${state}`,
      state,
      // What it runs and reads: ProtectHome=yes would hide any of these under a home directory.
      readOnly: [node, keyholdRoot, store],
      network: options.vaultNetwork === true,
    }),
  );
  const dropInText = () =>
    unitText([
      ...(vaultUnitLines.length > 0 ? [section("Unit", vaultUnitLines)] : []),
      section("Service", serviceLines),
    ]);
  if (mode === "jobserver" && options.dropIn) {
    // The job server's own unit carries the sandbox: a drop-in only adds what a new job needs (its
    // credentials, its project, its hosts). Repeating the sandbox here could undo choices made there
    // (PrivateNetwork=), so it is left out.
    for (const p of bindPaths) serviceLines.push(`BindPaths=${p}`);
    for (const p of bindReadOnlyPaths) serviceLines.push(`BindReadOnlyPaths=${p}`);
    if (protectHome === "tmpfs") serviceLines.push("ProtectHome=tmpfs");
    if (ipAllow.length > 0) serviceLines.push(`IPAddressAllow=${ipAllow.join(" ")}`);
    return {
      files: [{ path: `${service}.service.d/${DROP_IN_NAME}`, content: dropInText() }, ...vaultFiles],
      primary: `${service}.service`,
      credentials,
      vaultCredentials,
      vaultSockets,
    };
  }
  // A core dump of a process holding a key would write the key to disk.
  serviceLines.push("LimitCORE=0");
  serviceLines.push("PrivateMounts=yes");

  if (mode === "isolated" || mode === "jobserver") {
    serviceLines.push("DynamicUser=yes");
    if (mode === "jobserver") {
      serviceLines.push(
        // The socket's group, as the service's group (DynamicUser= takes an existing group as is):
        // the outputs directory is the developers' and this group's (setgid, 2770), so the server
        // writes there without it being open to every local user. (SupplementaryGroups= would do
        // the same but costs 0.1 of exposure.)
        `Group=${group}`,
        // ...which would let every job connect to the socket and trigger jobs: the server gets
        // its listening socket as fd 3 and has no use for the path.
        `InaccessiblePaths=-${posix.dirname(JOBSERVER_SOCKET_PATH)}`,
        `StateDirectory=${service}`,
        "StateDirectoryMode=0700",
        `RuntimeDirectory=${service}`,
        "RuntimeDirectoryMode=0700",
        "Environment=HOME=/tmp",
      );
    }
    for (const p of bindPaths) serviceLines.push(`BindPaths=${p}`);
    for (const p of bindReadOnlyPaths) serviceLines.push(`BindReadOnlyPaths=${p}`);
    // An isolated service usually serves the network; the job server reaches only what it is told.
    const network = mode === "isolated" || ipAllow.length > 0;
    // Job output must stay readable by the developers who asked for it (they read its logs and outputs).
    const umask = mode === "jobserver" ? "0022" : "0077";
    serviceLines.push(...sandboxDirectives(protectHome, umask, network, mode === "jobserver"));
  }
  if (ipAllow.length > 0) serviceLines.push("IPAddressDeny=any", `IPAddressAllow=${ipAllow.join(" ")}`);
  else if (mode === "jobserver") serviceLines.push("IPAddressDeny=any");
  if (!options.dropIn) {
    serviceLines.push("Restart=on-failure", "RestartSec=200ms");
    if (mode === "jobserver")
      serviceLines.push(
        "# SIGTERM to the server only: it lets running jobs finish, then stops",
        "KillMode=mixed",
      );
  }

  const files: UnitFile[] = [];
  const description =
    options.description ??
    (mode === "jobserver"
      ? "keyhold job server"
      : `${service} (credentials loaded by keyhold, ${mode} mode)`);
  if (/[\x00-\x1f\x7f]/.test(description))
    throw usage("the description may not contain newlines or control characters");
  // systemd joins a line ending in '\' with the next one: the directive after it would vanish.
  if (description.endsWith("\\")) throw usage("the description may not end with a backslash");

  if (options.dropIn) {
    files.push({ path: `${service}.service.d/${DROP_IN_NAME}`, content: dropInText() }, ...vaultFiles);
    return { files, primary: `${service}.service`, credentials, vaultCredentials, vaultSockets };
  }

  // Description= expands specifiers (%H, %d, …): a '%' the user typed is written as "%%".
  const descriptionValue = description.replaceAll("%", "%%");
  const unitLines = [`Description=${descriptionValue}`, ...vaultUnitLines];
  const listen = options.socket === undefined ? undefined : socketAddress(options.socket);
  if (listen !== undefined && mode === "jobserver")
    throw usage("--socket applies to --mode standard and isolated", "the job server has its own socket");
  if (mode === "jobserver" || listen !== undefined)
    unitLines.push(`Requires=${service}.socket`, `After=${service}.socket`);
  const install =
    mode === "jobserver"
      ? [`Also=${service}.socket`]
      : listen !== undefined
        ? ["WantedBy=multi-user.target", `Also=${service}.socket`]
        : ["WantedBy=multi-user.target"];
  files.push({
    path: `${service}.service`,
    content: unitText([
      section("Unit", unitLines),
      section("Service", serviceLines),
      section("Install", install),
    ]),
  });
  if (mode === "jobserver") {
    files.push({
      path: `${service}.socket`,
      content: unitText([
        section("Unit", [`Description=${descriptionValue} socket`]),
        section("Socket", [
          `ListenStream=${JOBSERVER_SOCKET_PATH}`,
          "SocketUser=root",
          `SocketGroup=${group}`,
          "SocketMode=0660",
          "DirectoryMode=0755",
          "RemoveOnStop=yes",
          `Service=${service}.service`,
        ]),
        section("Install", ["WantedBy=sockets.target"]),
      ]),
    });
  }
  if (listen !== undefined) {
    files.push({
      path: `${service}.socket`,
      content: unitText([
        section("Unit", [`Description=${descriptionValue} socket`]),
        section("Socket", [
          "# Held by systemd across restarts of the service: connections wait in its queue (docs/units.md)",
          `ListenStream=${listen}`,
          `Service=${service}.service`,
        ]),
        section("Install", ["WantedBy=sockets.target"]),
      ]),
    });
  }
  files.push(...vaultFiles);
  return {
    files,
    primary: mode === "jobserver" || listen !== undefined ? `${service}.socket` : `${service}.service`,
    credentials,
    vaultCredentials,
    vaultSockets,
  };
}

/** --socket's ADDRESS, checked so that ListenStream= reads it as given: a port, IPv4:port, [IPv6]:port or a path. */
function socketAddress(address: string): string {
  const port = (p: string) => /^[1-9][0-9]{0,4}$/.test(p) && Number(p) <= 65535;
  if (address.startsWith("/")) {
    assertUnitPath(address, "--socket");
    if (Buffer.byteLength(address) > SOCKET_PATH_MAX)
      throw usage(
        `--socket ${address.slice(0, 80)} is longer than a Unix socket path may be (${SOCKET_PATH_MAX} bytes)`,
      );
    return address;
  }
  if (port(address)) return address;
  const v6 = /^\[([0-9A-Fa-f:.]+)\]:([0-9]+)$/.exec(address);
  if (v6 && isIP(v6[1] as string) === 6 && port(v6[2] as string)) return address;
  const v4 = /^([0-9.]+):([0-9]+)$/.exec(address);
  if (v4 && isIP(v4[1] as string) === 4 && port(v4[2] as string)) return address;
  throw usage(
    `invalid --socket ${JSON.stringify(address.slice(0, 80))}`,
    "give a port (8080), an address and port (127.0.0.1:8080, [::1]:8080) or an absolute Unix socket path",
  );
}

function vaultCredential(service: string, ref: { ns: string; name: string }): VaultUnitCredential {
  const shown = `${ref.ns}/${ref.name}`.slice(0, 120);
  assertCredentialName(ref.name);
  const path = `${VAULT_SOCKET_DIR}/${service}/${ref.ns}/${ref.name}`;
  assertUnitPath(path, `the socket for vault secret ${shown}`);
  if (Buffer.byteLength(path) > SOCKET_PATH_MAX) {
    throw usage(
      `the socket for vault secret ${shown} would be ${Buffer.byteLength(path)} bytes long; a Unix socket path holds at most ${SOCKET_PATH_MAX}`,
      "use a shorter service, namespace or secret name",
    );
  }
  return { id: ref.name, path, ref: { ns: ref.ns, name: ref.name } };
}

/**
 * SERVICE-vault-<10 hex digits of SHA-256("NS/NAME")>: one socket unit (and its template) per
 * secret, so the unit file itself says which secret an instance serves (--ref), and the name stays
 * the same when other secrets are added or removed.
 */
export function vaultUnitPrefix(service: string, ref: { ns: string; name: string }): string {
  return `${service}-vault-${createHash("sha256").update(`${ref.ns}/${ref.name}`).digest("hex").slice(0, 10)}`;
}

/**
 * The socket and template service that answer one vault secret's requests for a unit. One instance
 * per request (Accept=yes): no process keeps the vault's keys between service starts. It runs as
 * root (it must read the vault and the master credential) with no capabilities, in a sandbox that
 * can write only the state directory (audit log, replay and lockout records); the credential store
 * is read-only to it. Its stdout is the journal, never the connection.
 */
function renderVaultAnswerer(options: {
  service: string;
  credential: VaultUnitCredential;
  exec: string;
  state: string;
  readOnly: readonly string[];
  network: boolean;
}): UnitFile[] {
  const { service, credential } = options;
  const prefix = vaultUnitPrefix(service, credential.ref);
  const what = `${credential.ref.ns}/${credential.ref.name} for ${service}.service`;
  const socket = unitText([
    section("Unit", [`Description=keyhold vault: requests of ${what}`]),
    section("Socket", [
      `ListenStream=${credential.path}`,
      "SocketUser=root",
      "SocketMode=0600",
      "DirectoryMode=0700",
      "Accept=yes",
      "MaxConnections=16",
      "RemoveOnStop=yes",
    ]),
    section("Install", ["WantedBy=sockets.target"]),
  ]);
  // ProtectHome=yes would hide anything under /home, /root or /run/user, even from
  // ReadWritePaths=. A PostgreSQL vault needs root's ~/.pgpass and client certificates: the homes
  // stay readable. Otherwise they are an empty tmpfs, with what the answer needs bound in.
  const homeReads = options.readOnly.filter(underHome);
  const homeWrites = underHome(options.state) ? [options.state] : [];
  const protectHome = options.network
    ? ["ProtectHome=read-only"]
    : homeReads.length + homeWrites.length > 0
      ? [
          "ProtectHome=tmpfs",
          ...homeReads.map((p) => `BindReadOnlyPaths=${p}`),
          ...homeWrites.map((p) => `BindPaths=-${p}`),
        ]
      : ["ProtectHome=yes"];
  const answerer = unitText([
    section("Unit", [
      `Description=keyhold vault: answer one request of ${what}`,
      "CollectMode=inactive-or-failed",
    ]),
    section("Service", [
      "Type=simple",
      // %i is <counter>-<pid>-<uid> of the connecting process: it must be the service's own start.
      `ExecStart=${renderExecLine(options.exec)} --peer %i`,
      "StandardInput=null",
      "StandardOutput=journal",
      "StandardError=journal",
      "RuntimeMaxSec=60",
      "LimitCORE=0",
      "UMask=0077",
      "# Root for its uid (it owns the vault, the host key and the audit log), with no capabilities",
      "CapabilityBoundingSet=",
      "NoNewPrivileges=yes",
      "PrivateTmp=yes",
      "PrivateMounts=yes",
      "ProtectSystem=strict",
      `ReadWritePaths=-${options.state}`,
      ...protectHome,
      ...KERNEL_PROTECTIONS,
      ...RESTRICTIONS,
      "# systemd-creds may need the TPM to read the vault's master credential",
      "DevicePolicy=closed",
      "DeviceAllow=/dev/tpmrm0 rw",
      "SystemCallArchitectures=native",
      "SystemCallFilter=@system-service",
      "SystemCallFilter=~@privileged @resources",
      "SystemCallErrorNumber=EPERM",
      ...(options.network
        ? ["# The vault is on PostgreSQL", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"]
        : ["RestrictAddressFamilies=AF_UNIX", "IPAddressDeny=any"]),
    ]),
  ]);
  return [
    { path: `${prefix}.socket`, content: socket },
    { path: `${prefix}@.service`, content: answerer },
  ];
}
