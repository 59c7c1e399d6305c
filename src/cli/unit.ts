import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stateDirectory, storeDirectory } from "../defaults.js";
import { checkCredentialNames, installUnits, type NameCheck, type UnitFile } from "../systemd/index.js";
import {
  JOBSERVER_DEFAULT_GROUP,
  jobServerAuditKeyPath,
  normaliseServiceName,
  renderUnit,
  type UnitMode,
} from "../units/index.js";
import type { SecretRef } from "../vault/index.js";
import { layoutFrom } from "./args.js";
import { defineCommand, type OptionTable, type RunContext } from "./command.js";
import { type CliIo, EXIT_OK, usageError, writeJson, writeLine } from "./io.js";

const OPTIONS = {
  mode: {
    type: "string",
    arg: "MODE",
    default: "standard",
    complete: ["standard", "isolated", "jobserver"],
    description: "standard (default), isolated (DynamicUser= and a sandbox) or jobserver",
  },
  exec: {
    type: "string",
    arg: "CMD",
    description: "the command line; first word an absolute path; never put a key in it",
  },
  health: {
    type: "string",
    arg: "CMD",
    description:
      "a health check run after each start (ExecStartPost=), inside the sandbox; a failure fails the start, and rotate --restart rolls back on it",
  },
  socket: {
    type: "string",
    arg: "ADDRESS",
    description:
      "socket activation: systemd holds ADDRESS (port, IP:port, [IPv6]:port or a Unix socket path) and hands it to the service as fd 3, so a restart refuses no connection",
  },
  cred: {
    type: "string",
    arg: "NAME[:FILE]",
    multiple: true,
    default: [],
    description: "load <store>/NAME as NAME; NAME:FILE loads FILE as NAME (repeatable)",
  },
  bind: {
    type: "string",
    arg: "PATH",
    multiple: true,
    default: [],
    complete: "directory",
    description: "a writable path visible in the sandbox (repeatable)",
  },
  "bind-ro": {
    type: "string",
    arg: "PATH",
    multiple: true,
    default: [],
    complete: "directory",
    description: "a read-only path visible in the sandbox (repeatable)",
  },
  group: {
    type: "string",
    arg: "GROUP",
    description: `jobserver: the group allowed to connect to the socket (default ${JOBSERVER_DEFAULT_GROUP})`,
  },
  "ip-allow": {
    type: "string",
    arg: "CIDR",
    multiple: true,
    default: [],
    description: "a host or network the service may reach; all else is denied (repeatable)",
  },
  vault: {
    type: "string",
    arg: "NS/NAME",
    multiple: true,
    default: [],
    description:
      "give the service vault secret NS/NAME as credential NAME, asked for at each start through SERVICE-vault.socket (repeatable; grant it first: keyhold vault grant SERVICE NS/NAME --ops read)",
  },
  config: {
    type: "string",
    arg: "PATH",
    complete: "file",
    description: "jobserver: the job configuration file",
  },
  "keyhold-root": {
    type: "string",
    arg: "DIR",
    complete: "directory",
    description: "jobserver: where keyhold is installed (default: this installation)",
  },
  "drop-in": {
    type: "boolean",
    default: false,
    description: "render a drop-in for an existing SERVICE instead of a full unit",
  },
  install: {
    type: "boolean",
    default: false,
    description: "write to <root>/etc/systemd/system and run systemd-analyze verify",
  },
  root: { type: "string", arg: "DIR", complete: "directory", description: "install below DIR instead of /" },
  force: { type: "boolean", default: false, description: "with --install, replace unit files that differ" },
  json: {
    type: "boolean",
    default: false,
    description: "print the rendered files and credential checks as JSON",
  },
} as const satisfies OptionTable;

export const unit = defineCommand({
  name: "unit",
  synopsis: "unit SERVICE --exec CMD [--cred NAME[:FILE]]… [options]",
  help: "Renders a systemd unit that loads keyhold credentials (docs/units.md).",
  options: OPTIONS,
  run: unitCommand,
});

/**
 * The directory holding bin/keyhold.js: the nearest parent of this module that has one (this code
 * runs from dist/src/cli/ or from a bundle in dist/cli/).
 */
function thisInstallation(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (dir !== "/" && !existsSync(join(dir, "bin/keyhold.js"))) dir = dirname(dir);
  return dir === "/" ? resolve(fileURLToPath(new URL("../../..", import.meta.url))) : dir;
}

function groupExists(root: string, group: string): boolean {
  try {
    return readFileSync(join(root, "etc/group"), "utf8")
      .split("\n")
      .some((line) => line.split(":")[0] === group);
  } catch {
    return false;
  }
}

function reportChecks(io: CliIo, checks: NameCheck[]): void {
  for (const c of checks) {
    if (c.status === "missing") {
      writeLine(
        io.stderr,
        `keyhold: warning: ${c.path} does not exist yet; the service fails with 243/CREDENTIALS until it does`,
      );
    } else if (c.status === "unchecked") {
      writeLine(io.stderr, `keyhold: warning: the embedded name of ${c.path} was not checked (needs root)`);
    }
  }
}

/**
 * The vault secrets of --vault: each a valid reference, and the service a valid vault plugin name
 * (its grants are what the answering instance checks). A vault on PostgreSQL needs the network.
 */
async function vaultSecrets(
  service: string,
  refs: readonly string[],
  dirs: { store: string; state: string },
  io: CliIo,
): Promise<{ refs: SecretRef[]; network: boolean; usable: boolean }> {
  const { checkPlugin, parseRef } = await import("../vault/index.js");
  const { vaultKind } = await import("../app/vault-host.js");
  const parsedRefs = refs.map((r) => parseRef(r));
  const plugin = normaliseServiceName(service);
  try {
    checkPlugin(plugin);
  } catch {
    throw usageError(
      `--vault needs a service name that is also a vault plugin name: ${JSON.stringify(plugin.slice(0, 80))}`,
      "use 1-64 of A-Z a-z 0-9 _ . - (no ':' or '\\')",
    );
  }
  const kind = vaultKind(layoutFrom(dirs, io));
  if (kind === undefined) {
    writeLine(
      io.stderr,
      `keyhold: warning: there is no vault in ${dirs.state} yet; the service fails with 243/CREDENTIALS until there is`,
    );
  } else if (kind.provider !== "systemd-credential") {
    // Nobody is there to type a passphrase at service start, and root has no keyring session.
    writeLine(
      io.stderr,
      `keyhold: warning: this vault's master key is held by the ${kind.provider} provider, which a service start cannot use; --vault needs a vault made with --provider systemd-credential (the default)`,
    );
  }
  return {
    refs: parsedRefs,
    network: kind?.backend === "postgres",
    usable: kind?.provider === "systemd-credential",
  };
}

/**
 * Answering units of vault secrets this rendering no longer lists (a new --vault list with
 * --force): still enabled, they would keep serving the old secret while its grant lasts.
 */
function reportLeftoverAnswerers(
  io: CliIo,
  directory: string,
  service: string,
  files: readonly UnitFile[],
): void {
  const pattern = new RegExp(`^${service.replaceAll(".", "\\.")}-vault-[0-9a-f]{10}\\.socket$`);
  let entries: string[];
  try {
    entries = readdirSync(directory);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!pattern.test(entry) || files.some((f) => f.path === entry)) continue;
    const template = entry.replace(/\.socket$/, "@.service");
    writeLine(
      io.stderr,
      `keyhold: warning: ${entry} answers a vault secret this unit no longer loads; remove it: systemctl disable --now ${entry} && rm ${join(directory, entry)} ${join(directory, template)}`,
    );
  }
}

/**
 * After --install: the vault learns what the unit needs; the grants still to give (before the
 * first start: each start refused for want of one counts towards the plugin's lockout) and the
 * ones the unit no longer uses are printed for the admin.
 */
async function declareVaultNeeds(
  service: string,
  vault: { refs: SecretRef[]; usable: boolean },
  dirs: { store: string; state: string },
  io: CliIo,
): Promise<void> {
  const plugin = normaliseServiceName(service);
  let ungranted = vault.refs;
  if (vault.usable) {
    const { declareUnitNeeds } = await import("../app/manifests.js");
    const result = await declareUnitNeeds(layoutFrom(dirs, io), plugin, vault.refs);
    for (const r of result.added)
      writeLine(io.stdout, `declared: plugin ${plugin} needs ${r.ns}/${r.name} (read)`);
    for (const g of result.unused)
      writeLine(
        io.stdout,
        `note: plugin ${plugin} may still ${g.ops.join(",")} ${g.ns}/${g.name}, which this unit does not load: keyhold vault revoke ${plugin} ${g.ns}/${g.name}`,
      );
    ungranted = result.ungranted;
  }
  for (const r of ungranted) {
    writeLine(
      io.stdout,
      `next: keyhold vault grant ${plugin} ${r.ns}/${r.name} --ops read   (first: until then the service fails with 243/CREDENTIALS)`,
    );
  }
}

async function unitCommand({ values, positionals, io }: RunContext<typeof OPTIONS>): Promise<number> {
  const [service, ...extra] = positionals;
  if (service === undefined)
    throw usageError("missing SERVICE", "keyhold unit SERVICE --exec CMD [--cred NAME]…");
  if (extra.length > 0) throw usageError(`unexpected argument: ${extra[0]}`, "quote --exec as one string");
  if (values.root !== undefined && !values.install) throw usageError("--root goes with --install");
  if (values.force && !values.install) throw usageError("--force goes with --install");

  const store = storeDirectory(io.env, values.store);
  const state = stateDirectory(io.env, values.state);
  const vault =
    values.vault.length > 0 ? await vaultSecrets(service, values.vault, { store, state }, io) : undefined;
  const rendered = renderUnit({
    service,
    mode: values.mode as UnitMode,
    exec: values.exec,
    ...(values.health === undefined ? {} : { health: values.health }),
    ...(values.socket === undefined ? {} : { socket: values.socket }),
    resolvePath: resolveOnHost,
    credentials: values.cred,
    bindPaths: values.bind,
    bindReadOnlyPaths: values["bind-ro"],
    group: values.group,
    ipAllow: values["ip-allow"],
    dropIn: values["drop-in"],
    store,
    state,
    ...(vault === undefined ? {} : { vault: vault.refs, vaultNetwork: vault.network }),
    keyholdRoot: values["keyhold-root"] ?? thisInstallation(),
    // The node that runs this keyhold runs the units too (a host may have it outside /usr/bin).
    node: process.execPath,
    config: values.config,
  });

  // The job server's own audit key, made once before its unit can first start (never the host's:
  // docs/jobserver.md "Operating it" says how root verifies the server's log with it), with its
  // log's anchor in the server's StateDirectory= (under /var/lib/private: DynamicUser=), which
  // systemd hands to the server's user at its start; one that ran before owns it already.
  if (values.install && values.mode === "jobserver" && !values["drop-in"]) {
    const path = join(values.root ?? "/", jobServerAuditKeyPath(state, normaliseServiceName(service)));
    const serverState = join(values.root ?? "/", "var/lib/private", normaliseServiceName(service));
    const { AUDIT_ANCHOR_FILE, createAuditKeyFile } = await import("../audit/index.js");
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    mkdirSync(serverState, { recursive: true, mode: 0o700 });
    const anchor = join(serverState, AUDIT_ANCHOR_FILE);
    if (await createAuditKeyFile(path, { env: io.env }, anchor)) {
      const owner = statSync(serverState);
      chownSync(anchor, owner.uid, owner.gid);
      if (!values.json) writeLine(io.stdout, `created the job server's audit key ${path}`);
    }
  }

  // Refuse a credential whose embedded name differs from its ID before anything is written.
  const checks = await checkCredentialNames(rendered.credentials, { env: io.env });
  reportChecks(io, checks);

  let installed: string[] | undefined;
  if (values.install) {
    const root = values.root ?? "/";
    const result = await installUnits(rendered, { root, force: values.force, env: io.env });
    installed = result.paths;
    reportLeftoverAnswerers(io, result.directory, normaliseServiceName(service), rendered.files);
    if (values.mode === "jobserver") {
      const group = values.group ?? JOBSERVER_DEFAULT_GROUP;
      if (!groupExists(root, group)) {
        writeLine(
          io.stderr,
          `keyhold: warning: group ${group} does not exist; the socket fails with 216/GROUP until 'groupadd ${group}'`,
        );
      }
    }
  }

  if (values.json) {
    writeJson(io, {
      primary: rendered.primary,
      files: rendered.files,
      credentials: checks,
      vault: rendered.vaultCredentials,
      installed: installed ?? [],
    });
    return EXIT_OK;
  }
  if (installed !== undefined) {
    for (const path of installed) writeLine(io.stdout, `installed ${path}`);
    if (vault !== undefined) await declareVaultNeeds(service, vault, { store, state }, io);
    const sockets = rendered.vaultSockets.join(" ");
    const next = values["drop-in"]
      ? `${sockets === "" ? "" : `enable --now ${sockets} && systemctl `}restart ${rendered.primary}`
      : `enable --now ${[rendered.primary, ...rendered.vaultSockets].join(" ")}`;
    writeLine(io.stdout, `next: systemctl daemon-reload && systemctl ${next}`);
    return EXIT_OK;
  }
  rendered.files.forEach((f, i) => {
    if (rendered.files.length > 1) writeLine(io.stdout, `${i > 0 ? "\n" : ""}# ---- ${f.path} ----`);
    io.stdout.write(f.content);
  });
  return EXIT_OK;
}

/** Where `path` leads on this host, links resolved; undefined when it does not exist (renderUnit's resolvePath). */
function resolveOnHost(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
