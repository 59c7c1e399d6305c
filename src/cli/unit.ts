import { realpathSync } from "node:fs";
import { join } from "node:path";
import {
  createJobServerAuditKey,
  declareUnitVault,
  installUnit,
  thisInstallation,
  type UnitVault,
  type UnitVaultPlace,
  unitVaultSecrets,
} from "../app/units.js";
import { stateDirectory, storeDirectory } from "../defaults.js";
import { checkCredentialNames, type NameCheck } from "../systemd/index.js";
import { JOBSERVER_DEFAULT_GROUP, normaliseServiceName, renderUnit, type UnitMode } from "../units/index.js";
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
 * After --install: the vault learns what the unit needs; the grants still to give (before the
 * first start) and the ones the unit no longer uses are printed for the admin.
 */
async function declareVaultNeeds(service: string, vault: UnitVault, place: UnitVaultPlace, io: CliIo) {
  const plugin = normaliseServiceName(service);
  const result = await declareUnitVault(service, vault, place);
  for (const r of result.added)
    writeLine(io.stdout, `declared: plugin ${plugin} needs ${r.ns}/${r.name} (read)`);
  for (const g of result.unused)
    writeLine(
      io.stdout,
      `note: plugin ${plugin} may still ${g.ops.join(",")} ${g.ns}/${g.name}, which this unit does not load: keyhold vault revoke ${plugin} ${g.ns}/${g.name}`,
    );
  for (const r of result.ungranted) {
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
  const place = { store, state, env: io.env };
  const vault = values.vault.length > 0 ? await unitVaultSecrets(service, values.vault, place) : undefined;
  if (vault?.warning !== undefined) writeLine(io.stderr, `keyhold: warning: ${vault.warning}`);
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

  // The job server's own audit key, made before its unit can first start.
  if (values.install && values.mode === "jobserver" && !values["drop-in"]) {
    const path = await createJobServerAuditKey(service, { root: values.root ?? "/", state, env: io.env });
    if (path !== undefined && !values.json)
      writeLine(io.stdout, `created the job server's audit key ${path}`);
  }

  // Refuse a credential whose embedded name differs from its ID before anything is written.
  const checks = await checkCredentialNames(rendered.credentials, { env: io.env });
  reportChecks(io, checks);

  let installed: string[] | undefined;
  if (values.install) {
    const group = values.mode === "jobserver" ? (values.group ?? JOBSERVER_DEFAULT_GROUP) : undefined;
    const result = await installUnit(rendered, service, {
      root: values.root ?? "/",
      force: values.force,
      env: io.env,
      group,
    });
    installed = result.paths;
    for (const { socket, template } of result.leftovers) {
      writeLine(
        io.stderr,
        `keyhold: warning: ${socket} answers a vault secret this unit no longer loads; remove it: systemctl disable --now ${socket} && rm ${join(result.directory, socket)} ${join(result.directory, template)}`,
      );
    }
    if (result.missingGroup !== undefined) {
      writeLine(
        io.stderr,
        `keyhold: warning: group ${result.missingGroup} does not exist; the socket fails with 216/GROUP until 'groupadd ${result.missingGroup}'`,
      );
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
    if (vault !== undefined) await declareVaultNeeds(service, vault, place, io);
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
