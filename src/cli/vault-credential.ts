import { Socket } from "node:net";
import type { AuditLog } from "../audit/index.js";
import { isSecretError, type Secret, SecretError } from "../secret/index.js";
import {
  acceptedSocketPath,
  encryptCredential,
  parseSocketInstance,
  unitOfProcess,
  VAULT_SOCKET_DIR,
  type WithKey,
} from "../systemd/index.js";
import { parseRef, type SecretRef } from "../vault/index.js";
import { type CliIo, EXIT_OK, writeLine } from "./io.js";

/*
 * `keyhold vault serve-credential`: answers one `LoadCredentialEncrypted=NAME:/run/keyhold-vault/
 * SERVICE/NS/NAME` request of a unit that `keyhold unit --vault NS/NAME` rendered. systemd starts
 * one root instance per request (Accept=yes) with the connection as fd 3. The answer is the vault
 * secret's current value encrypted for this host under the credential's name, so PID 1 decrypts it
 * into the service's credential directory; on any failure nothing is written, the empty answer
 * fails to decrypt, and the service fails with 243/CREDENTIALS instead of starting with a wrong
 * or empty key. docs/units.md "Vault secrets".
 */

/** Accept=yes passes the accepted connection as the one $LISTEN_FDS descriptor. */
const CONNECTION_FD = 3;
/** The answer is decrypted by PID 1 within milliseconds; a copy found later is useless. */
const ANSWER_LIFETIME = "+60s";

export interface ServeCredentialOptions {
  /** The service (without .service) whose requests this socket answers: also its vault plugin. */
  service: string;
  /** systemd's instance name for the connection: <counter>-<pid>-<uid> of the peer. */
  peer: string;
  io: CliIo;
  withKey?: WithKey;
  /** Reads a secret through the vault's policy for plugin `service` (audited there). */
  read: (ref: SecretRef) => Promise<Secret>;
  /** The host's audit log, for requests refused before the vault is reached. */
  openAudit: () => Promise<AuditLog>;
}

function unverified(message: string): SecretError {
  return new SecretError("PEER_UNVERIFIED", message, {
    hint: "vault credential sockets are for the units keyhold unit --vault rendered; see docs/units.md",
  });
}

/** Which secret was asked for and by whom; throws PEER_UNVERIFIED unless it is the service itself. */
function verifyRequest(options: ServeCredentialOptions): SecretRef {
  const { env } = options.io;
  if (env.LISTEN_PID !== String(process.pid) || env.LISTEN_FDS !== "1") {
    throw unverified("no connection was passed to this process: it is started by a socket unit");
  }
  const path = acceptedSocketPath(CONNECTION_FD);
  const prefix = `${VAULT_SOCKET_DIR}/${options.service}/`;
  if (!path.startsWith(prefix)) {
    throw unverified(`the request came through ${path.slice(0, 160)}, not a socket of ${options.service}`);
  }
  const ref = parseRef(path.slice(prefix.length));
  const peer = parseSocketInstance(options.peer);
  if (peer.uid !== 0) throw unverified(`the request came from uid ${peer.uid}, not from the service manager`);
  const unit = unitOfProcess(peer.pid);
  if (unit !== `${options.service}.service`) {
    throw unverified(`the request came from ${unit.slice(0, 120)}, not from ${options.service}.service`);
  }
  return ref;
}

function answer(data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new Socket({ fd: CONNECTION_FD, readable: false, writable: true });
    socket.once("error", reject);
    socket.end(data, () => resolve());
  });
}

export async function serveCredential(options: ServeCredentialOptions): Promise<number> {
  let ref: SecretRef;
  try {
    ref = verifyRequest(options);
  } catch (err) {
    const code = isSecretError(err) ? err.code : "INTERNAL";
    const audit = await options.openAudit();
    await audit.append({
      op: "vault.serve-credential",
      result: "denied",
      code,
      detail: { unit: `${options.service}.service` },
    });
    throw err;
  }
  const value = await options.read(ref);
  try {
    const ciphertext = await encryptCredential(ref.name, value.exposeBytes(), {
      notAfter: ANSWER_LIFETIME,
      env: options.io.env,
      ...(options.withKey === undefined ? {} : { withKey: options.withKey }),
    });
    await answer(ciphertext);
  } finally {
    value.dispose();
  }
  writeLine(options.io.stdout, `gave ${ref.ns}/${ref.name} to ${options.service}.service as ${ref.name}`);
  return EXIT_OK;
}
