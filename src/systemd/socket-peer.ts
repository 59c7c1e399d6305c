import { readFileSync } from "node:fs";
import { SecretError } from "../secret/index.js";
import { runTool, systemTool } from "./process.js";

/*
 * Who is on the other end of a connection systemd accepted for a socket unit with Accept=yes, for
 * a service that hands out credentials through `LoadCredentialEncrypted=ID:/path/to/socket`.
 * Node cannot call getpeername(2) on a Unix socket, so this relies on what systemd and the kernel
 * publish (measured on systemd 252, docs/units.md "Vault secrets"):
 * - systemd names each instance `<counter>-<pid>-<uid>` of the peer (SO_PEERCRED);
 * - for a credential request, the peer is a helper that the process about to become the service
 *   forked ("(sd-mkdcreds)"): its parent is the unit's MainPID (ControlPID while an ExecStartPre=
 *   or similar runs), and it sits in the unit's own cgroup, which systemd reports as ControlGroup.
 * /proc/net/unix is deliberately not used: socket paths appear there unescaped, so any user can
 * plant lines that look like another socket's.
 */

export function peerError(message: string): SecretError {
  return new SecretError("PEER_UNVERIFIED", message, {
    hint: "vault credential sockets answer only the units keyhold unit --vault rendered them for; see docs/units.md",
  });
}

export interface SocketPeer {
  pid: number;
  uid: number;
}

/** Parses the instance name systemd gives an `Accept=yes` service for a Unix socket peer. */
export function parseSocketInstance(instance: string): SocketPeer {
  const m = /^([0-9]+)-([1-9][0-9]{0,9})-([0-9]{1,10})$/.exec(instance);
  if (m === null) throw peerError(`not a socket instance name: ${JSON.stringify(instance.slice(0, 40))}`);
  return { pid: Number(m[2]), uid: Number(m[3]) };
}

export interface ProcessFacts {
  ppid: number;
  /** The process's name (/proc/PID/stat); systemd names a child it forked "(program)" until it execs. */
  comm: string;
  /** The parent's name, likewise; "" when the parent is gone. */
  parentComm: string;
  /** Real, effective, saved and file-system uid. */
  uids: number[];
  /**
   * The process's cgroup in systemd's own hierarchy: the named "systemd" hierarchy on hybrid and
   * legacy hosts (where the unified one may say anything a root process wrote there), else the
   * unified one.
   */
  cgroup: string;
}

export function processFacts(pid: number, procRoot = "/proc"): ProcessFacts {
  let status: string;
  let cgroups: string;
  try {
    status = readFileSync(`${procRoot}/${pid}/status`, "utf8");
    cgroups = readFileSync(`${procRoot}/${pid}/cgroup`, "utf8");
  } catch {
    throw peerError(`process ${pid} is gone`);
  }
  const field = (name: string) => new RegExp(`^${name}:\\t(.*)$`, "m").exec(status)?.[1];
  const ppid = Number(field("PPid"));
  const uids = (field("Uid") ?? "").split("\t").map(Number);
  const lines = cgroups.split("\n");
  const named = lines.find((l) => /^[0-9]+:name=systemd:/.test(l));
  const cgroup =
    named !== undefined
      ? named.replace(/^[0-9]+:name=systemd:/, "")
      : lines.find((l) => l.startsWith("0::"))?.slice(3);
  const comm = commOf(pid, procRoot);
  const parentComm = (Number.isInteger(ppid) && ppid > 0 ? commOf(ppid, procRoot) : undefined) ?? "";
  if (
    comm === undefined ||
    !Number.isInteger(ppid) ||
    uids.length !== 4 ||
    uids.some((u) => !Number.isInteger(u)) ||
    cgroup === undefined
  ) {
    throw peerError(`process ${pid} could not be identified`);
  }
  return { ppid, comm, parentComm, uids, cgroup };
}

/** The name field of /proc/PID/stat (it may itself hold spaces and parentheses). */
function commOf(pid: number, procRoot: string): string | undefined {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, "utf8");
    return stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
  } catch {
    return undefined;
  }
}

/** systemd names a process it forked "(name)" until the process execs its program. */
const notYetExecuted = (comm: string) => comm.length > 2 && comm.startsWith("(") && comm.endsWith(")");

export interface UnitProcesses {
  mainPid: number;
  controlPid: number;
  controlGroup: string;
}

/** What the service manager says about a unit's processes right now. */
export async function unitProcesses(unit: string, env?: NodeJS.ProcessEnv): Promise<UnitProcesses> {
  const r = await runTool(
    systemTool("systemctl"),
    ["show", "--property=MainPID,ControlPID,ControlGroup", "--", unit],
    env === undefined ? {} : { env },
  ).catch(() => undefined);
  if (r === undefined || r.code !== 0)
    throw peerError(`the service manager could not be asked about ${unit}`);
  const props = new Map(
    r.stdout
      .toString("utf8")
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const),
  );
  return {
    mainPid: Number(props.get("MainPID") ?? 0),
    controlPid: Number(props.get("ControlPID") ?? 0),
    controlGroup: props.get("ControlGroup") ?? "",
  };
}

/**
 * Refuses (PEER_UNVERIFIED) unless the peer is uid 0, sits in exactly `unit`'s cgroup, and is the
 * unit's main or control process before it has executed its program, or a direct child of that
 * (systemd 252 connects from "(sd-mkdcreds)", forked by it): the service manager setting up the
 * start, not a program the unit runs.
 */
export function checkPeerIsStarting(
  peer: SocketPeer,
  facts: ProcessFacts,
  unit: string,
  state: UnitProcesses,
): void {
  if (peer.uid !== 0 || facts.uids.some((u) => u !== 0)) {
    throw peerError(`the request came from uid ${peer.uid}, not from the service manager`);
  }
  if (state.controlGroup === "" || facts.cgroup !== state.controlGroup) {
    throw peerError(`the request came from cgroup ${facts.cgroup.slice(0, 160)}, not from ${unit}`);
  }
  const starting = [state.mainPid, state.controlPid].filter((p) => p > 0);
  const itself = starting.includes(peer.pid) && notYetExecuted(facts.comm);
  const itsHelper = starting.includes(facts.ppid) && notYetExecuted(facts.parentComm);
  if (!itself && !itsHelper) {
    throw peerError(`the request came from process ${peer.pid}, which is not ${unit} starting`);
  }
}
