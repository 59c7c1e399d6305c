import { existsSync, fstatSync } from "node:fs";
import { Socket } from "node:net";
import { openStateAuditLog } from "../audit/index.js";
import type { StoreLayout } from "../credstore/index.js";
import { isKeyholdError } from "../secret/index.js";
import {
  checkPeerIsStarting,
  encryptCredential,
  parseSocketInstance,
  peerError,
  processFacts,
  unitProcesses,
  type WithKey,
} from "../systemd/index.js";
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
const HOST_KEY = "/var/lib/systemd/credential.secret";

export interface VaultAnswerRequest {
  /** The service (without .service) whose requests this socket answers: also its vault plugin. */
  service: string;
  ref: SecretRef;
  /** systemd's instance name for the connection: <counter>-<pid>-<uid> of the peer. */
  peer: string;
}

/** Refuses unless the connection is the service's own start asking; records what was found. */
async function verifyRequest(
  request: VaultAnswerRequest,
  env: NodeJS.ProcessEnv,
  found: Record<string, string>,
): Promise<void> {
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
  const facts = processFacts(peer.pid);
  found.cgroup = facts.cgroup.slice(0, 200);
  found.process = `${facts.comm.slice(0, 40)}, parent ${facts.ppid} ${facts.parentComm.slice(0, 40)}`;
  const unit = `${request.service}.service`;
  const state = await unitProcesses(unit, env);
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
  const env = l.creds.env ?? process.env;
  const found: Record<string, string> = {};
  // The audit key's and the master's decrypts run while the peer is checked (systemctl): the
  // store is opened, and the secret read, only once the request is verified. A refused request
  // drops the master decrypted meanwhile.
  let started: HostVaultStart | undefined;
  try {
    started = startHostVault(l);
  } catch {
    // no vault here, or its configuration is malformed: said after the check, as before
  }
  try {
    await verifyRequest(request, env, found);
  } catch (err) {
    started?.abandon();
    const audit = await (started?.audit ?? openStateAuditLog(l.state, l.creds));
    await audit.append({
      op: "vault.serve-credential",
      name: `${ref.ns}/${ref.name}`,
      result: "denied",
      code: isKeyholdError(err) ? err.code : "INTERNAL",
      detail: { unit: `${service}.service`, peer: peer.slice(0, 40), ...found },
    });
    throw err;
  }
  const value = await withHostVault(l, options, ({ vault }) => vault.scope(service).get(ref), started);
  try {
    const ciphertext = await encryptCredential(ref.name, value.exposeBytes(), {
      notAfter: ANSWER_LIFETIME,
      env,
      withKey: answerKey(env),
    });
    await answer(ciphertext);
  } finally {
    value.dispose();
  }
}
