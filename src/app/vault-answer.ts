import { existsSync, fstatSync } from "node:fs";
import { Socket } from "node:net";
import { openStateAuditLog } from "../audit/index.js";
import type { StoreLayout } from "../credstore/index.js";
import { isKeyholdError } from "../secret/index.js";
import {
  checkPeerIsStarting,
  parseSocketInstance,
  peerError,
  processFacts,
  type SocketPeer,
  type StartedEncrypt,
  startEncryptCredential,
  type UnitProcesses,
  unitProcesses,
  type WithKey,
} from "../systemd/index.js";
import { phase } from "../timing.js";
import { checkPlugin, type SecretRef } from "../vault/index.js";
import { type HostVaultOptions, type HostVaultStart, startHostVault, withHostVault } from "./vault-host.js";

/*
 * Answering one `LoadCredentialEncrypted=NAME:/run/keyhold-vault/SERVICE/NS/NAME` request of a
 * unit that `keyhold unit --vault NS/NAME` rendered (`keyhold vault serve-credential`). Each secret
 * has its own socket unit, whose template names the secret and the unit; systemd starts one root
 * instance per request (Accept=yes) with the connection as fd 3. The answer is the secret's current
 * value encrypted for this host under the credential's name, so PID 1 decrypts it into the
 * service's credential directory; on any failure nothing is written, the empty answer fails to
 * decrypt, and the service fails with 243/CREDENTIALS instead of starting with a wrong or empty
 * key. docs/units.md "Vault secrets".
 */

/** Accept=yes passes the accepted connection as the one $LISTEN_FDS descriptor. */
const CONNECTION_FD = 3;
/** The answer is decrypted by PID 1 within milliseconds; a copy found later is useless. */
const ANSWER_LIFETIME = "+60s";
/** The unit stops an instance after RuntimeMaxSec=60 (src/units/vault.ts); its encrypt waits no longer. */
const ANSWER_TIMEOUT_MS = 60_000;
const HOST_KEY = "/var/lib/systemd/credential.secret";

export interface VaultAnswerRequest {
  /** The service (without .service) whose requests this socket answers: also its vault plugin. */
  service: string;
  ref: SecretRef;
  /** systemd's instance name for the connection: <counter>-<pid>-<uid> of the peer. */
  peer: string;
}

/**
 * What can be checked without asking anyone: the process was handed one connection, and systemd
 * says the peer is root. Refuses otherwise, before anything is started.
 */
function checkConnection(request: VaultAnswerRequest, env: NodeJS.ProcessEnv): SocketPeer {
  if (env.LISTEN_PID !== String(process.pid) || env.LISTEN_FDS !== "1") {
    throw peerError("no connection was passed to this process: it is started by a socket unit");
  }
  let isSocket = false;
  try {
    isSocket = fstatSync(CONNECTION_FD).isSocket();
  } catch {
    // not open
  }
  if (!isSocket) throw peerError(`descriptor ${CONNECTION_FD} is not a connection`);
  const peer = parseSocketInstance(request.peer);
  if (peer.uid !== 0) throw peerError(`the request came from uid ${peer.uid}, not from the service manager`);
  return peer;
}

/**
 * Refuses unless the peer is the service's own start (/proc now, and what the service manager
 * said when `asked`); records what was found.
 */
async function checkPeer(
  peer: SocketPeer,
  unit: string,
  asked: Promise<UnitProcesses>,
  found: Record<string, string>,
): Promise<void> {
  const facts = processFacts(peer.pid);
  found.cgroup = facts.cgroup.slice(0, 200);
  found.process = `${facts.comm.slice(0, 40)}, parent ${facts.ppid} ${facts.parentComm.slice(0, 40)}`;
  const state = await asked;
  found.unit = `main ${state.mainPid}, control ${state.controlPid}`;
  checkPeerIsStarting(peer, facts, unit, state);
}

/**
 * The answer is encrypted with the host key when there is one: it lives for a minute and travels
 * over a root-only socket to PID 1, and the host key needs no TPM round trip (nor a writable
 * /var/lib/systemd, which this sandbox does not have, to create it). Without a host key: the TPM.
 */
function answerKey(env: NodeJS.ProcessEnv): WithKey {
  return existsSync(env.SYSTEMD_CREDENTIAL_SECRET ?? HOST_KEY) ? "host" : "tpm2";
}

function answer(data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new Socket({ fd: CONNECTION_FD, readable: false, writable: true });
    socket.once("error", reject);
    socket.end(data, () => resolve());
  });
}

/**
 * Answers the request on the connection systemd passed as fd 3, after checking that it is the
 * service's own start asking; a refused request is audited in this host's log before it is thrown.
 * The secret is read through the vault's policy for plugin `service` (audited there).
 */
export async function answerVaultCredential(
  l: StoreLayout,
  request: VaultAnswerRequest,
  options: HostVaultOptions = {},
): Promise<void> {
  const { ref, peer } = request;
  const service = checkPlugin(request.service);
  const unit = `${service}.service`;
  const env = l.creds.env ?? process.env;
  const found: Record<string, string> = {};
  // Everything slow starts at once, and the request is checked meanwhile: the service manager is
  // asked about the unit (systemctl); the answer's systemd-creds starts, to wait for the value on
  // its stdin; the audit key's and the master's decrypts run. The store is opened, and the secret
  // read, only once the request is verified; a refused request kills the encrypt, having given it
  // nothing, and drops the master decrypted meanwhile. A pre-started encrypt is never handed the
  // connection: its output comes back here and is written only after it succeeded.
  let encrypt: StartedEncrypt | undefined;
  let started: HostVaultStart | undefined;
  try {
    try {
      const asker = checkConnection(request, env);
      const asked = unitProcesses(unit, env);
      asked.catch(() => undefined); // thrown by checkPeer
      encrypt = startEncryptCredential(ref.name, {
        notAfter: ANSWER_LIFETIME,
        env,
        withKey: answerKey(env),
        timeoutMs: ANSWER_TIMEOUT_MS,
      });
      try {
        started = startHostVault(l);
      } catch {
        // no vault here, or its configuration is malformed: said after the check, as before
      }
      await checkPeer(asker, unit, asked, found);
      phase("verified");
    } catch (err) {
      encrypt?.cancel();
      started?.abandon();
      const audit = await (started?.audit ?? openStateAuditLog(l.state, l.creds));
      await audit.append({
        op: "vault.serve-credential",
        name: `${ref.ns}/${ref.name}`,
        result: "denied",
        code: isKeyholdError(err) ? err.code : "INTERNAL",
        detail: { unit, peer: peer.slice(0, 40), ...found },
      });
      throw err;
    }
    const value = await withHostVault(l, options, ({ vault }) => vault.scope(service).get(ref), started);
    phase("read");
    try {
      const ciphertext = await encrypt.encrypt(value.exposeBytes());
      phase("encrypted");
      await answer(ciphertext);
      phase("answered");
    } finally {
      value.dispose();
    }
  } finally {
    encrypt?.cancel(); // a failed read: the encrypt gets nothing either
  }
}
