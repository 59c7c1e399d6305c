import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isSecretError } from "../../src/secret/index.js";
import {
  acceptedSocketPath,
  decryptCredential,
  parseSocketInstance,
  unitOfProcess,
  VAULT_SOCKET_DIR,
} from "../../src/systemd/index.js";
import { firstErrorLine, initWorld, KEYHOLD_BIN, runCliOk } from "../support/cli.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";

/**
 * `keyhold vault serve-credential` on the host, without systemd: the connection and the peer are
 * made the way systemd makes them (fd 3 accepted on a socket under /run/keyhold-vault, LISTEN_PID/
 * LISTEN_FDS, the peer's <n>-<pid>-<uid>), so every check of the request can be shown to refuse,
 * and a peer placed in a cgroup named like the service gets the value encrypted for the host.
 * test/vault/units.container.test.ts runs the same through a real systemd.
 */

const peerError = (err: unknown) => isSecretError(err, "PEER_UNVERIFIED");

describe("who is asking (socket-peer)", () => {
  let scratch: Scratch;
  before(() => {
    scratch = makeScratch("keyhold-peer-");
  });
  after(() => scratch.cleanup());

  it("parses systemd's <counter>-<pid>-<uid> instance names and nothing else", () => {
    assert.deepEqual(parseSocketInstance("0-226-0"), { pid: 226, uid: 0 });
    assert.deepEqual(parseSocketInstance("17-4194304-1000"), { pid: 4194304, uid: 1000 });
    for (const bad of ["", "226", "0-226", "0-0-0", "a-1-0", "0-1-0-1", "0-1-0\n", "0--1-0", "%i"])
      assert.throws(() => parseSocketInstance(bad), peerError, JSON.stringify(bad));
  });

  it("names the unit of a process from its cgroup, unified or hybrid", () => {
    const proc = join(scratch.root, "proc");
    const write = (pid: number, text: string) => {
      mkdirSync(join(proc, String(pid)), { recursive: true });
      writeFileSync(join(proc, String(pid), "cgroup"), text);
    };
    write(10, "0::/system.slice/keyhold-jobs.service\n");
    write(11, "9:name=systemd:/system.slice/billing-api.service\n1:cpu:/\n0::/\n");
    write(12, "0::/\n");
    write(13, "0::/system.slice/app.service\n9:name=systemd:/system.slice/app.service\n");
    assert.equal(unitOfProcess(10, proc), "keyhold-jobs.service");
    assert.equal(unitOfProcess(11, proc), "billing-api.service");
    assert.equal(unitOfProcess(13, proc), "app.service");
    assert.throws(() => unitOfProcess(12, proc), peerError, "a process in the root cgroup is in no unit");
    assert.throws(() => unitOfProcess(14, proc), peerError, "a process that is gone");
  });

  it("finds the path a connection was accepted on; refuses other descriptors", async () => {
    const path = join(scratch.root, "listen.sock");
    const accepted = new Promise<Socket>((resolve) => {
      const server = createServer(resolve);
      server.listen(path);
      after(() => server.close());
    });
    const client = connect(path);
    await new Promise((resolve) => client.once("connect", resolve));
    const serverSide = await accepted;
    const fdOf = (s: Socket) => (s as unknown as { _handle: { fd: number } })._handle.fd;
    assert.equal(acceptedSocketPath(fdOf(serverSide)), path);
    assert.throws(() => acceptedSocketPath(fdOf(client)), peerError, "the client end has no name");
    const file = openSync(join(scratch.root, "plain"), "w");
    try {
      assert.throws(() => acceptedSocketPath(file), peerError, "a file is not a socket");
    } finally {
      closeSync(file);
    }
    assert.throws(() => acceptedSocketPath(987_654), peerError, "a closed descriptor");
    client.destroy();
    serverSide.destroy();
  });
});

/** The cgroup v2 mount of this host (hybrid hosts mount it at /sys/fs/cgroup/unified). */
function unifiedCgroupRoot(): string | undefined {
  for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
    const [, mountPoint, type] = line.split(" ");
    if (type === "cgroup2" && mountPoint !== undefined) return mountPoint;
  }
  return undefined;
}

/**
 * A stand-in for the forked child systemd connects from: a process in a cgroup whose last
 * element is `unit`, as systemd places a service's processes. Undefined without cgroup v2.
 */
function standInPeer(unit: string): { pid: number; stop(): Promise<void> } | undefined {
  const cgroupRoot = unifiedCgroupRoot();
  if (cgroupRoot === undefined) return undefined;
  const parent = join(cgroupRoot, `keyhold-test-${process.pid}`);
  const group = join(parent, unit);
  mkdirSync(group, { recursive: true });
  const child = spawn("/bin/sleep", ["30"], { stdio: "ignore" });
  writeFileSync(join(group, "cgroup.procs"), String(child.pid));
  return {
    pid: child.pid as number,
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      rmdirSync(group);
      rmdirSync(parent);
    },
  };
}

describe("keyhold vault serve-credential", () => {
  let world: Scratch;
  const canary = makeCanary("serve");
  const service = `kh-serve-${process.pid}`;
  const socketDir = join(VAULT_SOCKET_DIR, service, "billing");
  const socketPath = join(socketDir, "openai");
  let server: Server;
  let pending: ((s: Socket) => void) | undefined;

  before(async () => {
    world = await initWorld("keyhold-serve-");
    await runCliOk(["vault", "init"], { env: world.env });
    await runCliOk(["vault", "put", "billing/openai"], { env: world.env, input: canary });
    const manifest = join(world.root, "manifest.json");
    writeFileSync(
      manifest,
      JSON.stringify({ plugin: service, needs: [{ ns: "billing", name: "openai", ops: ["read"] }] }),
    );
    await runCliOk(["vault", "policy", "load", manifest], { env: world.env });
    await runCliOk(["vault", "grant", service, "billing/openai", "--ops", "read"], { env: world.env });
    mkdirSync(socketDir, { recursive: true, mode: 0o700 });
    server = createServer((s) => pending?.(s));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });

  after(() => {
    server?.close();
    rmSync(join(VAULT_SOCKET_DIR, service), { recursive: true, force: true });
    world?.cleanup();
  });

  /** Connects as systemd would and runs serve-credential with the accepted end as fd 3. */
  async function ask(
    args: string[],
    options: { path?: string; listenPid?: boolean } = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string; answer: Buffer }> {
    let target = server;
    const path = options.path ?? socketPath;
    if (path !== socketPath) {
      target = createServer((s) => pending?.(s));
      await new Promise<void>((resolve) => target.listen(path, resolve));
    }
    try {
      const accepted = new Promise<Socket>((resolve) => {
        pending = resolve;
      });
      const client = connect(path);
      const chunks: Buffer[] = [];
      client.on("data", (c: Buffer) => chunks.push(c));
      const closed = new Promise((resolve) => client.on("close", resolve));
      const connection = await accepted;
      const setPid = options.listenPid === false ? "" : "LISTEN_PID=$$ LISTEN_FDS=1 ";
      const child = spawn(
        "/bin/sh",
        [
          "-c",
          `${setPid}exec "$0" "$@"`,
          process.execPath,
          KEYHOLD_BIN,
          "vault",
          "serve-credential",
          ...args,
        ],
        { env: world.env, stdio: ["ignore", "pipe", "pipe", connection] },
      );
      connection.destroy();
      let stdout = "";
      let stderr = "";
      child.stdout?.on("data", (c) => {
        stdout += c;
      });
      child.stderr?.on("data", (c) => {
        stderr += c;
      });
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      await closed;
      return { code, stdout, stderr, answer: Buffer.concat(chunks) };
    } finally {
      if (target !== server) target.close();
    }
  }

  function assertRefused(
    r: { code: number | null; stderr: string; stdout: string; answer: Buffer },
    why: RegExp,
  ) {
    assert.equal(r.code, 1, r.stderr);
    const { code, message } = firstErrorLine(r.stderr);
    assert.equal(code, "PEER_UNVERIFIED");
    assert.match(message, why);
    assert.equal(r.answer.length, 0, "nothing is written to a refused connection");
    assert.ok(!`${r.stdout}${r.stderr}`.includes(canary));
  }

  it("refuses when not started by socket activation", async () => {
    const r = await ask(["--for", service, "--peer", `0-${process.pid}-0`], { listenPid: false });
    assertRefused(r, /no connection was passed/);
  });

  it("refuses a connection on a socket that is not the service's", async () => {
    const other = join(world.root, "elsewhere.sock");
    const r = await ask(["--for", service, "--peer", `0-${process.pid}-0`], { path: other });
    assertRefused(r, /not a socket of kh-serve-/);
  });

  it("refuses a peer that is not uid 0 and a peer outside the service's cgroup, and audits both", async (t) => {
    assertRefused(await ask(["--for", service, "--peer", `0-${process.pid}-1000`]), /from uid 1000/);
    const other = standInPeer("billing-api.service");
    if (other === undefined) {
      t.skip("no cgroup v2 mount to place a stand-in peer in");
      return;
    }
    try {
      assertRefused(
        await ask(["--for", service, "--peer", `0-${other.pid}-0`]),
        new RegExp(`came from billing-api\\.service, not from ${service}\\.service`),
      );
    } finally {
      await other.stop();
    }
    const audit = await runCliOk(["vault", "audit", "--json"], { env: world.env });
    const refused = (JSON.parse(audit.stdout) as Array<{ op: string; code?: string }>).filter(
      (r) => r.op === "vault.serve-credential" && r.code === "PEER_UNVERIFIED",
    );
    assert.ok(refused.length >= 2, audit.stdout);
    assert.ok(!audit.stdout.includes(canary));
  });

  it("refuses bad arguments with a usage error", async () => {
    for (const args of [
      [],
      ["--for", service],
      ["--peer", "0-1-0"],
      ["--for", "a:b", "--peer", "0-1-0"],
      ["x"],
    ]) {
      const r = spawnSync(process.execPath, [KEYHOLD_BIN, "vault", "serve-credential", ...args], {
        env: world.env,
        encoding: "utf8",
      });
      assert.notEqual(r.status, 0, args.join(" "));
      assert.match(firstErrorLine(r.stderr).code, /^(USAGE|INVALID_NAME)$/, r.stderr);
    }
  });

  it("answers the service itself with the value encrypted for this host under the credential's name", async (t) => {
    const peer = standInPeer(`${service}.service`);
    if (peer === undefined) {
      t.skip("no cgroup v2 mount to place a stand-in peer in");
      return;
    }
    try {
      const r = await ask(["--for", service, "--peer", `3-${peer.pid}-0`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `gave billing/openai to ${service}.service as openai\n`);
      assert.ok(r.answer.length > 0);
      for (const form of [
        canary,
        Buffer.from(canary).toString("base64"),
        Buffer.from(canary).toString("hex"),
      ])
        assert.ok(!r.answer.toString("latin1").includes(form), "the answer is ciphertext");
      const value = await decryptCredential("openai", r.answer, { env: world.env });
      assert.equal(value.expose(), canary);
      value.dispose();
      await assert.rejects(decryptCredential("other", r.answer, { env: world.env }), (err) =>
        isSecretError(err, "NAME_MISMATCH"),
      );
      const audit = await runCliOk(["vault", "audit", "--json"], { env: world.env });
      const reads = (
        JSON.parse(audit.stdout) as Array<{ op: string; result: string; detail?: { plugin?: string } }>
      ).filter((rec) => rec.op === "vault.get" && rec.result === "ok" && rec.detail?.plugin === service);
      assert.equal(reads.length, 1, "the read is audited for the service's plugin");
    } finally {
      await peer.stop();
    }
  });
});
