import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveLayout } from "../credstore/index.js";
import { KeyholdError } from "../secret/index.js";
import { type InstalledUnits, installUnits } from "../systemd/index.js";
import { jobServerAuditKeyPath, normaliseServiceName, type RenderedUnits } from "../units/index.js";
import type { SecretRef } from "../vault/index.js";
import type { UnitNeeds } from "./manifests.js";

/*
 * What `keyhold unit` does besides rendering (src/systemd/unit.ts renders): where this keyhold is
 * installed, the vault secrets a unit loads (checked against this host's vault, declared in it
 * after install), the job server's own audit key made before its first start, and installing the
 * rendered files with what the admin must still be told (answering units left over, a missing
 * socket group). The vault and the audit log are loaded only when a unit needs them.
 */

/**
 * The directory holding bin/keyhold.js: the nearest parent of this module that has one (this code
 * runs from dist/src/app/ or from a bundle in dist/cli/).
 */
export function thisInstallation(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (dir !== "/" && !existsSync(join(dir, "bin/keyhold.js"))) dir = dirname(dir);
  return dir === "/" ? resolve(fileURLToPath(new URL("../../..", import.meta.url))) : dir;
}

/** Where a unit's vault lives: the store and state directories (the environment fills in the rest). */
export interface UnitVaultPlace {
  store: string;
  state: string;
  env?: NodeJS.ProcessEnv;
}

export interface UnitVault {
  refs: SecretRef[];
  /** A vault on PostgreSQL: the answering units need the network. */
  network: boolean;
  /** The vault's master is held where a service start can reach it (systemd-credential). */
  usable: boolean;
  /** Why the service fails with 243/CREDENTIALS until something changes, if it will. */
  warning?: string;
}

/**
 * The vault secrets of `keyhold unit --vault`: each a valid reference, and the service a valid
 * vault plugin name (its grants are what the answering instance checks). A vault on PostgreSQL
 * needs the network.
 */
export async function unitVaultSecrets(
  service: string,
  refs: readonly string[],
  place: UnitVaultPlace,
): Promise<UnitVault> {
  const { checkPlugin, parseRef } = await import("../vault/index.js");
  const { vaultKind } = await import("./vault-host.js");
  const parsedRefs = refs.map((r) => parseRef(r));
  const plugin = normaliseServiceName(service);
  try {
    checkPlugin(plugin);
  } catch {
    throw new KeyholdError(
      "USAGE",
      `--vault needs a service name that is also a vault plugin name: ${JSON.stringify(plugin.slice(0, 80))}`,
      { hint: "use 1-64 of A-Z a-z 0-9 _ . - (no ':' or '\\')" },
    );
  }
  const kind = vaultKind(resolveLayout(place));
  let warning: string | undefined;
  if (kind === undefined) {
    warning = `there is no vault in ${place.state} yet; the service fails with 243/CREDENTIALS until there is`;
  } else if (kind.provider !== "systemd-credential") {
    // Nobody is there to type a passphrase at service start, and root has no keyring session.
    warning = `this vault's master key is held by the ${kind.provider} provider, which a service start cannot use; --vault needs a vault made with --provider systemd-credential (the default)`;
  }
  return {
    refs: parsedRefs,
    network: kind?.backend === "postgres",
    usable: kind?.provider === "systemd-credential",
    ...(warning === undefined ? {} : { warning }),
  };
}

/**
 * After install: the vault learns what the unit needs (when its master is usable at service start;
 * otherwise nothing is declared and every reference is still to be granted). Grants are to be
 * given before the first start: each start refused for want of one counts towards the plugin's
 * lockout.
 */
export async function declareUnitVault(
  service: string,
  vault: Pick<UnitVault, "refs" | "usable">,
  place: UnitVaultPlace,
): Promise<UnitNeeds> {
  if (!vault.usable) return { added: [], unused: [], ungranted: vault.refs };
  const { declareUnitNeeds } = await import("./manifests.js");
  return declareUnitNeeds(resolveLayout(place), normaliseServiceName(service), vault.refs);
}

/**
 * The job server's own audit key, made once before its unit can first start (never the host's:
 * docs/jobserver.md "Operating it" says how root verifies the server's log with it), with its log's
 * anchor in the server's StateDirectory= (under /var/lib/private: DynamicUser=), which systemd hands
 * to the server's user at its start; one that ran before owns it already. Returns the key's path
 * when it was made now.
 */
export async function createJobServerAuditKey(
  service: string,
  options: { root: string; state: string; env?: NodeJS.ProcessEnv },
): Promise<string | undefined> {
  const { AUDIT_ANCHOR_FILE, createAuditKeyFile } = await import("../audit/index.js");
  const path = join(options.root, jobServerAuditKeyPath(options.state, normaliseServiceName(service)));
  const serverState = join(options.root, "var/lib/private", normaliseServiceName(service));
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  mkdirSync(serverState, { recursive: true, mode: 0o700 });
  const anchor = join(serverState, AUDIT_ANCHOR_FILE);
  if (!(await createAuditKeyFile(path, { env: options.env }, anchor))) return undefined;
  const owner = statSync(serverState);
  chownSync(anchor, owner.uid, owner.gid);
  return path;
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

/** An answering unit of a vault secret: its socket and its service template. */
export interface VaultAnswerer {
  socket: string;
  template: string;
}

/**
 * Answering units of vault secrets this rendering no longer lists (a new --vault list with
 * --force): still enabled, they would keep serving the old secret while its grant lasts.
 */
function leftoverAnswerers(directory: string, service: string, rendered: RenderedUnits): VaultAnswerer[] {
  const pattern = new RegExp(`^${service.replaceAll(".", "\\.")}-vault-[0-9a-f]{10}\\.socket$`);
  let entries: string[];
  try {
    entries = readdirSync(directory);
  } catch {
    return [];
  }
  return entries
    .filter((entry) => pattern.test(entry) && !rendered.files.some((f) => f.path === entry))
    .map((socket) => ({ socket, template: socket.replace(/\.socket$/, "@.service") }));
}

export interface InstalledUnit extends InstalledUnits {
  /** Answering units of vault secrets the unit no longer loads, still in the unit directory. */
  leftovers: VaultAnswerer[];
  /** The job server's socket group, when it does not exist (the socket fails with 216/GROUP). */
  missingGroup?: string;
}

/**
 * Installs a rendered unit of `service` below `root` (src/systemd/install.ts) and finds what the
 * admin must still be told; `group` is the job server socket's group, checked in <root>/etc/group.
 */
export async function installUnit(
  rendered: RenderedUnits,
  service: string,
  options: { root: string; force: boolean; env?: NodeJS.ProcessEnv; group?: string },
): Promise<InstalledUnit> {
  const { root, group } = options;
  const result = await installUnits(rendered, { root, force: options.force, env: options.env });
  const leftovers = leftoverAnswerers(result.directory, normaliseServiceName(service), rendered);
  const missing = group !== undefined && !groupExists(root, group);
  return { ...result, leftovers, ...(missing ? { missingGroup: group } : {}) };
}
