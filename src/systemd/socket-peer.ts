import { readFileSync, readlinkSync } from "node:fs";
import { SecretError } from "../secret/index.js";

/*
 * Who is on the other end of a socket-activated connection, for a service that hands out
 * credentials through systemd's `LoadCredential[Encrypted]=ID:/path/to/socket`. Node cannot call
 * getsockname(2) or getpeername(2) on a Unix socket, so this reads what the kernel and systemd
 * already publish (measured on systemd 252, docs/units.md "Vault secrets"):
 * - an accepted Unix socket shares the listening socket's address, and /proc/net/unix lists it
 *   under the socket's inode — so the path the client connected to is known from the fd alone;
 * - with `Accept=yes`, systemd names each instance `<counter>-<pid>-<uid>` of the peer (SO_PEERCRED),
 *   and for a credential request the peer is the forked child that is about to become the
 *   requesting service, already in that service's cgroup.
 */

function peerError(message: string): SecretError {
  return new SecretError("PEER_UNVERIFIED", message, {
    hint: "this command answers systemd's LoadCredentialEncrypted= requests and is started by a socket unit that keyhold unit --vault renders",
  });
}

/** The file system path a connected Unix socket (by descriptor) was accepted on. */
export function acceptedSocketPath(fd: number, procRoot = "/proc"): string {
  let link: string;
  try {
    link = readlinkSync(`${procRoot}/self/fd/${fd}`);
  } catch {
    throw peerError(`descriptor ${fd} is not open`);
  }
  const inode = /^socket:\[([0-9]+)\]$/.exec(link)?.[1];
  if (inode === undefined) throw peerError(`descriptor ${fd} is not a socket`);
  // Num RefCount Protocol Flags Type St Inode Path — the path is absent for unnamed sockets.
  for (const line of readFileSync(`${procRoot}/net/unix`, "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/ +/);
    if (fields[6] === inode) {
      const path = fields.slice(7).join(" ");
      if (!path.startsWith("/")) throw peerError(`descriptor ${fd} is not a socket in the file system`);
      return path;
    }
  }
  throw peerError(`descriptor ${fd} is not a Unix socket`);
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

/**
 * The unit a process belongs to, from its cgroup: the last path element of the unified (v2) line,
 * or of the named systemd hierarchy on a hybrid v1 host.
 */
export function unitOfProcess(pid: number, procRoot = "/proc"): string {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/cgroup`, "utf8");
  } catch {
    throw peerError(`process ${pid} is gone`);
  }
  const lines = text.split("\n");
  const paths = [
    lines.find((l) => l.startsWith("0::"))?.slice(3),
    lines.find((l) => /^[0-9]+:name=systemd:/.test(l))?.replace(/^[0-9]+:name=systemd:/, ""),
  ];
  const unit = paths.map((p) => p?.split("/").at(-1)).find((u) => u !== undefined && u.length > 0);
  if (unit === undefined) throw peerError(`process ${pid} is in no unit`);
  return unit;
}
