import { createHash } from "node:crypto";
import type { UnitCredential, UnitFile } from "../systemd/index.js";
import { renderExecLine, splitCommandLine } from "./exec.js";
import { vaultRootSandbox } from "./sandbox.js";
import { assertUnitPath, isUnitPath, section, unitText } from "./text.js";

/**
 * The units around the vault: the sockets and services that answer a unit's vault secrets at each
 * of its starts, and the timer of the scheduled rotation (docs/units.md "Vault secrets").
 */

/** A vault secret a unit loads from its socket in VAULT_SOCKET_DIR. */
export interface VaultUnitCredential extends UnitCredential {
  ref: { ns: string; name: string };
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
export function renderVaultAnswerer(options: {
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
      ...vaultRootSandbox({
        writable: [options.state],
        readOnly: options.readOnly,
        network: options.network,
      }),
    ]),
  ]);
  return [
    { path: `${prefix}.socket`, content: socket },
    { path: `${prefix}@.service`, content: answerer },
  ];
}

/** The service and timer of `keyhold vault rotate --render-timer`. */
export const ROTATION_UNIT = "keyhold-vault-rotate";

export interface RotationTimerOptions {
  /** The keyhold command: its path, or a command line whose first word is an absolute path. */
  exec: string;
  store: string;
  state: string;
  /** The vault is (or may be) on PostgreSQL: the rotation needs the network. */
  network: boolean;
}

/**
 * A daily timer that runs `keyhold vault rotate --due`, in the sandbox of the vault's answering
 * units: a master rotation seals the new master into the store, so the store is writable too.
 */
export function renderRotationTimer(options: RotationTimerOptions): UnitFile[] {
  assertUnitPath(options.store, "the store directory");
  assertUnitPath(options.state, "the state directory");
  const exec = renderExecLine(
    `${options.exec} vault rotate --due --store ${options.store} --state ${options.state}`,
  );
  const renderedBy = "keyhold vault rotate --render-timer";
  const service = unitText(
    [
      section("Unit", ["Description=keyhold vault: rotate the keys whose schedule is due"]),
      section("Service", [
        "Type=oneshot",
        `ExecStart=${exec}`,
        ...vaultRootSandbox({
          writable: [options.store, options.state],
          // What it runs: ProtectHome=yes would hide it under a home directory.
          readOnly: splitCommandLine(options.exec).filter(isUnitPath),
          network: options.network,
        }),
      ]),
    ],
    renderedBy,
  );
  const timer = unitText(
    [
      section("Unit", ["Description=keyhold vault: daily check for keys due for rotation"]),
      section("Timer", ["OnCalendar=daily", "RandomizedDelaySec=1h", "Persistent=true"]),
      section("Install", ["WantedBy=timers.target"]),
    ],
    renderedBy,
  );
  return [
    { path: `${ROTATION_UNIT}.service`, content: service },
    { path: `${ROTATION_UNIT}.timer`, content: timer },
  ];
}
