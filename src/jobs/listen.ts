import { existsSync, lstatSync, unlinkSync } from "node:fs";
import type { Server } from "node:http";
import { connect } from "node:net";
import { SecretError } from "../secret/index.js";

/**
 * Where the job server listens (server.ts): a socket handed over by systemd's socket activation,
 * or a Unix socket it binds itself, never over a live server's, and never wider than 0660.
 */

export type ListenTarget = { fd: number } | { path: string };

function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function listenOn(server: Server, target: ListenTarget): Promise<void> {
  if ("fd" in target) {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ fd: target.fd }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return;
  }
  const path = target.path;
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) {
      throw new SecretError("SOCKET_IN_USE", `${path} exists and is not a socket`, {
        hint: "choose another --socket path",
      });
    }
    if (await probe(path)) {
      throw new SecretError("SOCKET_IN_USE", `another server answers on ${path}`, {
        hint: "stop it first, or choose another --socket path",
      });
    }
    unlinkSync(path); // a stale socket left by a crash
  }
  // The umask makes bind() create the socket 0660 directly: no moment where it is wider.
  // listen() binds synchronously, so the umask is restored before anything else runs.
  const previous = process.umask(0o117);
  let listening: Promise<void>;
  try {
    listening = new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } finally {
    process.umask(previous);
  }
  await listening;
}
