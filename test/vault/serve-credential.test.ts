import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isSecretError } from "../../src/secret/index.js";
import {
  checkPeerIsStarting,
  parseSocketInstance,
  processFacts,
  type UnitProcesses,
} from "../../src/systemd/index.js";
import { VAULT_SOCKET_DIR } from "../../src/units/index.js";
import { firstErrorLine, initWorld, KEYHOLD_BIN, runCliOk } from "../support/cli.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";

/**
 * `keyhold vault serve-credential` on the host, without systemd: the connection and the peer are
 * made the way systemd makes them (fd 3 accepted on a socket under /run/keyhold-vault, LISTEN_PID/
 * LISTEN_FDS, the peer's <n>-<pid>-<uid>), so every check of the request can be shown to refuse;
 * the checks of the peer against what systemd reports are a table over the decision function.
 * Answers (which need a real service manager starting a real unit) are in
 * test/vault/units.container.test.ts.
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

  it("reads a process's parent, uids and cgroup in systemd's own hierarchy", () => {
    const proc = join(scratch.root, "proc");
    const write = (pid: number, cgroup: string, uid = "0\t0\t0\t0", comm = "(sd-mkdcreds)", ppid = 69) => {
      mkdirSync(join(proc, String(pid)), { recursive: true });
      writeFileSync(join(proc, String(pid), "cgroup"), cgroup);
      writeFileSync(join(proc, String(pid), "status"), `Name:\t${comm}\nPPid:\t${ppid}\nUid:\t${uid}\n`);
      writeFileSync(join(proc, String(pid), "stat"), `${pid} (${comm}) S ${ppid} 1 1 0 -1 4194560\n`);
    };
    write(69, "0::/system.slice/keyhold-jobs.service\n", undefined, "(sh)", 1);
    write(10, "0::/system.slice/keyhold-jobs.service\n");
    // Hybrid: systemd's hierarchy is name=systemd; the unified line is whatever root wrote there.
    write(11, "9:name=systemd:/system.slice/billing-api.service\n1:cpu:/\n0::/evil/keyhold-jobs.service\n");
    write(12, "0::/\n", "1000\t1000\t1000\t1000");
    assert.deepEqual(processFacts(10, proc), {
      ppid: 69,
      comm: "(sd-mkdcreds)",
      parentComm: "(sh)",
      uids: [0, 0, 0, 0],
      cgroup: "/system.slice/keyhold-jobs.service",
    });
    // A name with spaces and parentheses of its own is read whole.
    write(13, "0::/\n", undefined, "a (b) c", 2);
    assert.equal(processFacts(13, proc).comm, "a (b) c");
    assert.equal(processFacts(11, proc).cgroup, "/system.slice/billing-api.service");
    assert.deepEqual(processFacts(12, proc).uids, [1000, 1000, 1000, 1000]);
    assert.throws(() => processFacts(14, proc), peerError, "a process that is gone");
  });

  it("accepts only the unit's own start: uid 0, its exact cgroup, its main or control process before exec, or their child", () => {
    const unit = "keyhold-jobs.service";
    const state: UnitProcesses = {
      mainPid: 69,
      controlPid: 0,
      controlGroup: "/system.slice/keyhold-jobs.service",
    };
    // systemd 252: the process about to become the service is "(sh)" until it execs, and the
    // request comes from "(sd-mkdcreds)", its child.
    const facts = {
      ppid: 69,
      comm: "(sd-mkdcreds)",
      parentComm: "(sh)",
      uids: [0, 0, 0, 0],
      cgroup: "/system.slice/keyhold-jobs.service",
    };
    const peer = { pid: 70, uid: 0 };
    assert.doesNotThrow(() => checkPeerIsStarting(peer, facts, unit, state));
    assert.doesNotThrow(() =>
      checkPeerIsStarting(
        { pid: 69, uid: 0 },
        { ...facts, comm: "(sh)", ppid: 1, parentComm: "systemd" },
        unit,
        state,
      ),
    );
    assert.doesNotThrow(() =>
      checkPeerIsStarting(peer, { ...facts, ppid: 77 }, unit, { ...state, mainPid: 0, controlPid: 77 }),
    );
    const refused: Array<[string, () => void, RegExp]> = [
      ["another uid", () => checkPeerIsStarting({ pid: 70, uid: 1000 }, facts, unit, state), /uid 1000/],
      [
        "a root process with a non-root uid in /proc",
        () => checkPeerIsStarting(peer, { ...facts, uids: [0, 0, 0, 1000] }, unit, state),
        /uid 0/,
      ],
      [
        "a look-alike cgroup",
        () => checkPeerIsStarting(peer, { ...facts, cgroup: "/evil/keyhold-jobs.service" }, unit, state),
        /cgroup \/evil\/keyhold-jobs\.service, not from keyhold-jobs\.service/,
      ],
      [
        "a process in the unit that is not its start",
        () => checkPeerIsStarting({ pid: 90, uid: 0 }, { ...facts, ppid: 89 }, unit, state),
        /process 90, which is not keyhold-jobs\.service starting/,
      ],
      [
        "a child of the running service (its main process has executed its program)",
        () => checkPeerIsStarting(peer, { ...facts, comm: "node", parentComm: "node" }, unit, state),
        /process 70, which is not keyhold-jobs\.service starting/,
      ],
      [
        "the running service's main process itself",
        () =>
          checkPeerIsStarting(
            { pid: 69, uid: 0 },
            { ...facts, comm: "node", ppid: 1, parentComm: "systemd" },
            unit,
            state,
          ),
        /process 69, which is not keyhold-jobs\.service starting/,
      ],
      [
        "a unit that is not running or starting",
        () => checkPeerIsStarting(peer, facts, unit, { mainPid: 0, controlPid: 0, controlGroup: "" }),
        /not from keyhold-jobs\.service/,
      ],
    ];
    for (const [what, call, why] of refused)
      assert.throws(call, (err) => peerError(err) && why.test((err as Error).message), what);
  });
});

describe("keyhold vault serve-credential", () => {
  let world: Scratch;
  const canary = makeCanary("serve");
  const service = `kh-serve-${process.pid}`;
  const socketPath = join(VAULT_SOCKET_DIR, service, "billing", "openai");
  const ref = ["--for", service, "--ref", "billing/openai"];
  let server: Server;
  let pending: ((s: Socket) => void) | undefined;

  before(async () => {
    world = await initWorld("keyhold-serve-");
    await runCliOk(["vault", "init"], { env: world.env });
    await runCliOk(["vault", "put", "billing/openai"], { env: world.env, input: canary });
    mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
    server = createServer((s) => pending?.(s));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });

  after(() => {
    server?.close();
    rmSync(join(VAULT_SOCKET_DIR, service), { recursive: true, force: true });
    world?.cleanup();
  });

  /**
   * Connects as systemd would and runs serve-credential with the accepted end (or, with
   * `notASocket`, a plain file) as fd 3.
   */
  async function ask(
    args: string[],
    options: { listenPid?: boolean; notASocket?: boolean } = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string; answer: Buffer }> {
    const accepted = new Promise<Socket>((resolve) => {
      pending = resolve;
    });
    const client = connect(socketPath);
    const chunks: Buffer[] = [];
    client.on("data", (c: Buffer) => chunks.push(c));
    const closed = new Promise((resolve) => client.on("close", resolve));
    const connection = await accepted;
    const file = options.notASocket ? openSync(join(world.root, "not-a-socket"), "w") : undefined;
    const setPid = options.listenPid === false ? "" : "LISTEN_PID=$$ LISTEN_FDS=1 ";
    const child = spawn(
      "/bin/sh",
      ["-c", `${setPid}exec "$0" "$@"`, process.execPath, KEYHOLD_BIN, "vault", "serve-credential", ...args],
      { env: world.env, stdio: ["ignore", "pipe", "pipe", file ?? connection] },
    );
    if (file !== undefined) closeSync(file);
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

  it("refuses when not started by socket activation, or when descriptor 3 is not a connection", async () => {
    assertRefused(
      await ask([...ref, "--peer", `0-${process.pid}-0`], { listenPid: false }),
      /no connection was passed/,
    );
    assertRefused(
      await ask([...ref, "--peer", `0-${process.pid}-0`], { notASocket: true }),
      /descriptor 3 is not a connection/,
    );
  });

  it("refuses a peer that is not uid 0, and one the service manager does not know as the unit starting; audits both", async () => {
    assertRefused(await ask([...ref, "--peer", `0-${process.pid}-1000`]), /from uid 1000/);
    // This test process is no unit's start (and where systemd is not PID 1 there is no one to ask).
    assertRefused(
      await ask([...ref, "--peer", `0-${process.pid}-0`]),
      new RegExp(`not from ${service}\\.service|could not be asked about ${service}\\.service`),
    );
    const audit = await runCliOk(["vault", "audit", "--json"], { env: world.env });
    const refused = (
      JSON.parse(audit.stdout) as Array<{
        op: string;
        code?: string;
        name?: string;
        detail?: Record<string, string>;
      }>
    ).filter((r) => r.op === "vault.serve-credential" && r.code === "PEER_UNVERIFIED");
    assert.ok(refused.length >= 2, audit.stdout);
    assert.equal(refused.at(-1)?.name, "billing/openai");
    assert.equal(refused.at(-1)?.detail?.peer, `0-${process.pid}-0`, "the record says who was refused");
    assert.ok(!audit.stdout.includes(canary));
  });

  it("audits a refusal also where the vault's configuration is missing (the decrypts it starts early need it)", async () => {
    const config = join(world.env.KEYHOLD_STATE as string, "vault", "config.json");
    renameSync(config, `${config}.away`);
    // A root peer: refused only once the service manager has been asked, after the vault's start.
    const asker = `7-${process.pid}-0`;
    try {
      assertRefused(
        await ask([...ref, "--peer", asker]),
        new RegExp(`not from ${service}\\.service|could not be asked about ${service}\\.service`),
      );
    } finally {
      renameSync(`${config}.away`, config);
    }
    const audit = await runCliOk(["vault", "audit", "--json"], { env: world.env });
    const refused = (
      JSON.parse(audit.stdout) as Array<{ op: string; detail?: Record<string, string> }>
    ).filter((r) => r.op === "vault.serve-credential" && r.detail?.peer === asker);
    assert.equal(refused.length, 1, audit.stdout);
  });

  it("a refused root peer ends the request at once: the answer's encrypt, started while the peer is checked, is killed having been given nothing", {
    // An encrypt left waiting on its stdin would hold the answerer, and the service's start, for
    // the minute the unit allows.
    timeout: 30_000,
  }, async () => {
    // A secret of its own: the encrypt started for it is `systemd-creds encrypt --name=<it>`.
    const name = `answer_${process.pid}`;
    await runCliOk(["vault", "put", `billing/${name}`], { env: world.env, input: canary });
    const asker = `8-${process.pid}-0`;
    const r = await ask(["--for", service, "--ref", `billing/${name}`, "--peer", asker]);
    assertRefused(
      r,
      new RegExp(`not from ${service}\\.service|could not be asked about ${service}\\.service`),
    );
    const left = readdirSync("/proc").filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(`--name=${name}`);
      } catch {
        return false;
      }
    });
    assert.deepEqual(left, [], "the encrypt started for the refused request is still running");
    const audit = await runCliOk(["vault", "audit", "--json"], { env: world.env });
    const records = JSON.parse(audit.stdout) as Array<{
      op: string;
      name?: string;
      detail?: Record<string, string>;
    }>;
    assert.ok(
      records.some((x) => x.op === "vault.serve-credential" && x.detail?.peer === asker),
      "the refusal is audited",
    );
    assert.ok(
      !records.some((x) => x.op === "vault.get" && x.name === `billing/${name}`),
      "the secret was read for a refused request",
    );
    assert.ok(!audit.stdout.includes(canary));
  });

  it("refuses bad arguments with a usage error", async () => {
    for (const args of [
      [],
      ["--for", service, "--peer", "0-1-0"],
      ["--for", service, "--ref", "billing/openai"],
      ["--ref", "billing/openai", "--peer", "0-1-0"],
      ["--for", "a:b", "--ref", "billing/openai", "--peer", "0-1-0"],
      ["--for", service, "--ref", "no-slash", "--peer", "0-1-0"],
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
});
