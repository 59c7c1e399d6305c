import { readFileSync } from "node:fs";
import { AUDIT_KEY_NAME } from "../audit/key.js";
import { MASTER_CREDENTIAL, SCAN_KEY_NAME } from "../defaults.js";
import { SecretError } from "../secret/index.js";
import { type StoreLayout, vaultConfigFile } from "./layout.js";

/**
 * keyhold's own credentials: the names its commands create and read for themselves. A user's
 * `set`, `rotate`, `import`, `rollback` or `rm` on one of them would break what keyhold keeps
 * with it (the vault, the audit log, scan's index), so those commands refuse them and name the
 * one that manages it. `ls` marks them; `doctor` reports the ones that are missing.
 */
export interface OwnCredential {
  name: string;
  /** What it is, for `ls` and error messages. */
  role: string;
  /** The command that manages it instead. */
  managedBy: string;
}

const MASTER_ROLE = { role: "the vault's master key", managedBy: "keyhold vault rotate master" };
const STAGED_ROLE = {
  role: "the vault's staged master key, for a master rotation under way",
  managedBy: "keyhold vault rotate master (it finishes or replaces the staged key)",
};

const OWN_CREDENTIALS: readonly OwnCredential[] = [
  { name: MASTER_CREDENTIAL, ...MASTER_ROLE },
  { name: `${MASTER_CREDENTIAL}.next`, ...STAGED_ROLE },
  {
    name: AUDIT_KEY_NAME,
    role: "the audit log's key",
    managedBy: "keyhold init (it is made once: a new key would orphan every record already written)",
  },
  {
    name: SCAN_KEY_NAME,
    role: "the key of scan's fingerprint index",
    managedBy: "keyhold itself (made with the first stored value, for keyhold scan)",
  },
];

/** The master's credential name of this host's vault when its master is a systemd credential. */
export function vaultMasterName(l: StoreLayout): string | undefined {
  let text: string;
  try {
    text = readFileSync(vaultConfigFile(l), "utf8");
  } catch {
    return undefined; // no vault here (or none this user can see)
  }
  try {
    const c = JSON.parse(text) as { provider?: unknown; credentialName?: unknown };
    if (c.provider !== "systemd-credential") return undefined;
    return typeof c.credentialName === "string" ? c.credentialName : MASTER_CREDENTIAL;
  } catch {
    return undefined; // a malformed configuration is reported by the vault commands
  }
}

/** keyhold's own credential NAME, or undefined for a user's credential. */
export function ownCredential(l: StoreLayout, name: string): OwnCredential | undefined {
  const known = OWN_CREDENTIALS.find((c) => c.name === name);
  if (known !== undefined) return known;
  // A vault made with --credential-name keeps its master under that name.
  const master = vaultMasterName(l);
  if (master === undefined || master === MASTER_CREDENTIAL) return undefined;
  if (name === master) return { name, ...MASTER_ROLE };
  if (name === `${master}.next`) return { name, ...STAGED_ROLE };
  return undefined;
}

/** Refuses `command` on one of keyhold's own credentials, naming the command that manages it. */
export function assertUserCredential(l: StoreLayout, name: string, command: string): void {
  const own = ownCredential(l, name);
  if (own === undefined) return;
  throw new SecretError(
    "RESERVED_NAME",
    `${name} is keyhold's own credential (${own.role}); keyhold ${command} refuses it`,
    { hint: `it is managed by: ${own.managedBy}` },
  );
}
