import { existsSync, fstatSync } from "node:fs";
import { Socket } from "node:net";
import { type AuditLog, openStateAuditLog } from "../../audit/index.js";
import { isKeyholdError, type Secret } from "../../secret/index.js";
import {
  checkPeerIsStarting,
  encryptCredential,
  parseSocketInstance,
  peerError,
  processFacts,
  unitProcesses,
  type WithKey,
} from "../../systemd/index.js";
import { checkPlugin, parseRef, type SecretRef } from "../../vault/index.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { type CliIo, EXIT_OK, usageError, writeLine } from "../io.js";
import { COMMON, usageHint, withVault } from "./shared.js";

/*
 * `keyhold vault serve-credential`: answers one `LoadCredentialEncrypted=NAME:/run/keyhold-vault/
 * SERVICE/NS/NAME` request of a unit that `keyhold unit --vault NS/NAME` rendered. Each secret has
 * its own socket unit, whose template names the secret (--ref) and the unit (--for); systemd starts
 * one root instance per request (Accept=yes) with the connection as fd 3. The answer is the
 * secret's current value encrypted for this host under the credential's name, so PID 1 decrypts
 * it into the service's credential directory; on any failure nothing is written, the empty answer
 * fails to decrypt, and the service fails with 243/CREDENTIALS instead of starting with a wrong or
 * empty key. docs/units.md "Vault secrets".
 */

/** Accept=yes passes the accepted connection as the one $LISTEN_FDS descriptor. */
const CONNECTION_FD = 3;
/** The answer is decrypted by PID 1 within milliseconds; a copy found later is useless. */
const ANSWER_LIFETIME = "+60s";
const HOST_KEY = "/var/lib/systemd/credential.secret";

export interface ServeCredentialOptions {
  /** The service (without .service) whose requests this socket answers: also its vault plugin. */
  service: string;
  ref: SecretRef;
  /** systemd's instance name for the connection: <counter>-<pid>-<uid> of the peer. */
  peer: string;
  io: CliIo;
  /** Reads a secret through the vault's policy for plugin `service` (audited there). */
  read: (ref: SecretRef) => Promise<Secret>;
  /** The host's audit log, for requests refused before the vault is reached. */
  openAudit: () => Promise<AuditLog>;
}

/** Refuses unless the connection is the service's own start asking; returns what was found. */
async function verifyRequest(options: ServeCredentialOptions, found: Record<string, string>): Promise<void> {
  const { env } = options.io;
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
  const peer = parseSocketInstance(options.peer);
  if (peer.uid !== 0) throw peerError(`the request came from uid ${peer.uid}, not from the service manager`);
  const facts = processFacts(peer.pid);
  found.cgroup = facts.cgroup.slice(0, 200);
  found.process = `${facts.comm.slice(0, 40)}, parent ${facts.ppid} ${facts.parentComm.slice(0, 40)}`;
  const unit = `${options.service}.service`;
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

export async function serveCredential(options: ServeCredentialOptions): Promise<number> {
  const { ref } = options;
  const found: Record<string, string> = {};
  try {
    await verifyRequest(options, found);
  } catch (err) {
    const audit = await options.openAudit();
    await audit.append({
      op: "vault.serve-credential",
      name: `${ref.ns}/${ref.name}`,
      result: "denied",
      code: isKeyholdError(err) ? err.code : "INTERNAL",
      detail: { unit: `${options.service}.service`, peer: options.peer.slice(0, 40), ...found },
    });
    throw err;
  }
  const value = await options.read(ref);
  try {
    const ciphertext = await encryptCredential(ref.name, value.exposeBytes(), {
      notAfter: ANSWER_LIFETIME,
      env: options.io.env,
      withKey: answerKey(options.io.env),
    });
    await answer(ciphertext);
  } finally {
    value.dispose();
  }
  writeLine(options.io.stdout, `gave ${ref.ns}/${ref.name} to ${options.service}.service as ${ref.name}`);
  return EXIT_OK;
}

const SYNOPSIS = "vault serve-credential --for SERVICE --ref NS/NAME --peer INSTANCE";

export const serveCredentialCommand = defineCommand({
  name: "vault serve-credential",
  synopsis: SYNOPSIS,
  summary:
    "answer one vault credential request of SERVICE (run by SERVICE-vault@.service, which keyhold unit --vault renders)",
  options: {
    ...COMMON,
    for: { type: "string", arg: "SERVICE", description: "the service whose request this answers (required)" },
    ref: { type: "string", arg: "NS/NAME", description: "the secret it asks for (required)" },
    peer: {
      type: "string",
      arg: "INSTANCE",
      description: "systemd's instance name for the connection (required)",
    },
  },
  async run({ values, positionals, io }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    if (values.for === undefined || values.ref === undefined || values.peer === undefined)
      throw usageError("--for SERVICE, --ref NS/NAME and --peer INSTANCE are required", usageHint(SYNOPSIS));
    const service = checkPlugin(values.for);
    const l = layoutFrom(values, io);
    return serveCredential({
      service,
      ref: parseRef(values.ref),
      peer: values.peer,
      io,
      read: (ref) => withVault(l, values, io, ({ vault }) => vault.scope(service).get(ref)),
      openAudit: () => openStateAuditLog(l.state, l.creds),
    });
  },
});
