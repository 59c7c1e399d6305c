import { isIP } from "node:net";
import { posix } from "node:path";
import { DEFAULT_STATE, DEFAULT_STORE } from "../defaults.js";
import { assertCredentialName, type UnitCredential, type UnitFile } from "../systemd/index.js";
import { renderExecLine, splitCommandLine } from "./exec.js";
import {
  AUDIT_KEY_CREDENTIAL,
  JOBSERVER_DEFAULT_CONFIG,
  JOBSERVER_DEFAULT_GROUP,
  JOBSERVER_SOCKET_PATH,
  jobServerAuditKeyPath,
} from "./jobserver.js";
import { sandboxDirectives, underHome } from "./sandbox.js";
import { assertUnitPath, section, unitText, usage } from "./text.js";
import { renderVaultAnswerer, type VaultUnitCredential, vaultUnitPrefix } from "./vault.js";

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
 * verifying and checking credentials against the store are separate steps (src/systemd/install.ts,
 * src/cli/unit.ts).
 */

export type UnitMode = "standard" | "isolated" | "jobserver";
export const UNIT_MODES: readonly UnitMode[] = ["standard", "isolated", "jobserver"];

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
   * Where a path leads on this host, links resolved, or undefined when it does not exist (the CLI
   * passes realpath): an absolute argument of `exec` that exists here but would be hidden by the
   * sandbox (a script under /tmp given to node, or under /opt/app when /opt/app is a link into
   * /tmp) is refused like the program itself, and so is a program reached through such a link.
   * Without it only the program as written is checked, since an argument under /tmp may name a
   * file the service creates in its own private /tmp.
   */
  resolvePath?: (path: string) => string | undefined;
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
    throw usage(
      `credential name ${JSON.stringify(id)} begins or ends with a blank, which a unit file cannot say`,
    );
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

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * Directories the rendered sandboxes replace with empty ones of their own: PrivateTmp=yes (/tmp,
 * /var/tmp) and PrivateDevices=yes (/dev). What ExecStart= needs from there is refused rather
 * than bound back in.
 */
export const PRIVATE_TMP = [
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
export function assertVisibleInSandbox(
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

/**
 * 243 (CREDENTIALS) is the exit systemd gives a start whose credentials it could not load: a file
 * missing or no longer decryptable here, a vault grant revoked. A restart meets the same refusal
 * (each one a denial the vault audits), and systemd's start limit (5 starts in 10 s) ends the
 * restarts only when each refused start is quick: on a host where one takes over two seconds,
 * they would go on until stopped. So the first one leaves the unit failed.
 */
const NO_RESTART_ON_CREDENTIALS = [
  "# 243/CREDENTIALS: systemd could not load a credential; a restart would meet the same refusal",
  "RestartPreventExitStatus=243",
];

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
      const [program, ...args] = splitCommandLine(options.exec) as [string, ...string[]];
      const hint = "move it to a directory the sandbox shows (e.g. /opt or /usr/local)";
      // The sandbox follows a link the same way the host does, into a directory it may hide.
      const resolved = (path: string) => (path.startsWith("/") ? options.resolvePath?.(path) : undefined);
      // As written, then where it leads when that is elsewhere.
      const add = (path: string, what: string, target: string | undefined) => {
        needs.push({ path: posix.normalize(path), what, hint });
        if (target !== undefined && target !== posix.normalize(path))
          needs.push({ path: target, what: `${what} (${path} leads there)`, hint });
      };
      add(program, "the program of --exec", resolved(program));
      // An argument is a path as a whole word, or after its first '=' (--config=/tmp/x,
      // input=/tmp/x). Not checked: paths inside a string the program parses (node -e
      // "require('/tmp/x')"), after any other separator (-I/tmp/x, a PATH-like /a:/tmp/b list),
      // relative ones, and those the program reads from its own configuration.
      for (const arg of args) {
        const target = resolved(arg);
        if (target !== undefined) add(arg, "an argument of --exec", target);
        const value = arg.slice(arg.indexOf("=") + 1);
        const valueTarget = arg.includes("=") ? resolved(value) : undefined;
        if (valueTarget !== undefined) add(value, `an argument of --exec (${arg})`, valueTarget);
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
    // The service's own Restart= would retry a revoked grant as a full unit's would (below).
    if (options.dropIn) serviceLines.push(...NO_RESTART_ON_CREDENTIALS);
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
    serviceLines.push("Restart=on-failure", "RestartSec=200ms", ...NO_RESTART_ON_CREDENTIALS);
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
          // systemd's default mode lets every local user connect; a service listening itself has
          // its socket its own (umask 0022). Clients get a group and mode by drop-in (docs/units.md).
          ...(listen.startsWith("/") ? ["SocketMode=0600"] : []),
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
