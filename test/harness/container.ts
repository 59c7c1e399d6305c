import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { chownSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";

/**
 * A throw-away container running a real systemd, booted by systemd-nspawn from the host's own
 * /usr, for integration tests of units, credentials and the job server.
 *
 * Facts this harness is built on (measured on the Debian 12 / systemd 252 machines keyhold is
 * developed and tested on, where systemd is not PID 1 and there is no machined or system bus):
 * - `systemd-nspawn --directory=/ --volatile=yes` boots in about half a second: / is a tmpfs,
 *   /usr comes read-only from the host, /etc starts nearly empty.
 * - `--register=no --keep-unit` are both needed (without either: "Failed to open system bus").
 * - `systemd.mask=systemd-firstboot.service`: with an empty /etc firstboot would prompt or fail.
 * - each container gets its own cgroup, nspawn-test/NAME in both the unified and the named
 *   "systemd" hierarchy; without it parallel containers share one cgroup and their units' processes
 *   mix. nspawn never removes these directories: we rmdir them depth-first after the stop.
 * - `setpriv --pdeathsig SIGTERM`: if the test runner dies, nspawn halts the container.
 * - `--private-network`: otherwise the container shares the host's network and ports collide.
 * - `--system-call-filter=bpf`: without it systemd inside cannot load its BPF programs and
 *   IPAddressAllow=/IPAddressDeny= are silently not enforced.
 * - the container's PID 1 is the child of nspawn whose comm is "systemd"; `systemctl
 *   is-system-running` inside fails with "Failed to connect to bus" for the first ~0.4 s.
 * - commands run inside with `nsenter -t <leader> -a env -i …` (exit code, stdout, stderr and stdin
 *   kept apart; `env -i` stops the host's environment leaking in); as a user with
 *   `setpriv --reuid=U --regid=U --init-groups`. There is no user namespace: UIDs inside are host UIDs.
 * - `systemd-creds --with-key=auto` fails inside (no TPM2, host key on a tmpfs): use `--with-key=host`.
 * - in a service, a wrong embedded name fails as status=243/CREDENTIALS.
 * - stop: SIGTERM to nspawn halts cleanly in 100-200 ms; wait for its exit (a zombie still
 *   answers kill -0). After a kill -9 an empty /run/systemd/nspawn/propagate/NAME may stay.
 * - "Attempted to remove disk file system under /run/systemd/nspawn/propagate/NAME" is printed on
 *   every run and is harmless (the host's /run is not a tmpfs).
 */

const CGROUP_ROOTS = ["/sys/fs/cgroup/unified/nspawn-test", "/sys/fs/cgroup/systemd/nspawn-test"];
const PROPAGATE_DIR = "/run/systemd/nspawn/propagate";
export const INSIDE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Where the project (this work tree, built) is bound read-only inside every container. */
export const PROJECT_INSIDE = "/opt/keyhold";
/** The keyhold CLI inside the container. */
export const KEYHOLD_INSIDE = `${PROJECT_INSIDE}/bin/keyhold.js`;
/** The command line that runs the checkout's keyhold inside a container, with `args`. */
export const keyholdInside = (...args: string[]): string[] => ["/usr/bin/node", KEYHOLD_INSIDE, ...args];
/** Names of our containers: kh-<pid of the test process>-<n>[-label]; the janitor relies on it. */
const NAME_PATTERN = /^kh-([0-9]+)-/;

/** The project root: this file is dist/test/harness/container.js. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export interface Bind {
  host: string;
  container: string;
  readOnly?: boolean;
}

export interface BootOptions {
  /** A short word in the machine name (letters, digits, '-'), to tell containers apart in logs. */
  label?: string;
  /** Bind the project read-only at /opt/keyhold (default true). */
  bindProject?: boolean;
  binds?: readonly Bind[];
  /** How long to wait for `running` (default 30 s; a normal boot takes well under 2 s). */
  bootTimeoutMs?: number;
  /**
   * A writable layer over the host's /usr (nspawn --overlay with a temporary upper directory), for
   * a test that installs a package; what it writes is gone with the container.
   */
  writableUsr?: boolean;
}

export interface RunOptions {
  input?: string | Buffer;
  /** Extra environment (the base is PATH, HOME, LANG, and USER for runAsUser). */
  env?: Record<string, string>;
  /** Working directory inside. */
  cwd?: string;
  timeoutMs?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class ContainerUnavailable extends Error {
  override readonly name = "ContainerUnavailable";
}

/** Whether this machine can boot a container at all (cheap, synchronous). */
export function containerSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== "linux") return { ok: false, reason: "containers need Linux" };
  if (process.getuid?.() !== 0) return { ok: false, reason: "booting a systemd container needs root" };
  const nspawn = ["/usr/bin/systemd-nspawn", "/bin/systemd-nspawn"].some(existsSync);
  if (!nspawn)
    return { ok: false, reason: "systemd-nspawn is not installed (Debian package systemd-container)" };
  if (!existsSync("/usr/bin/nsenter") || !existsSync("/usr/bin/setpriv")) {
    return { ok: false, reason: "nsenter/setpriv (util-linux) are missing" };
  }
  if (!CGROUP_ROOTS.map(dirname).every((d) => existsSync(d))) {
    return { ok: false, reason: "this machine does not have the hybrid cgroup layout the harness expects" };
  }
  if (!existsSync(join(PROJECT_ROOT, "dist/src/cli/main.js"))) {
    return { ok: false, reason: `the project is not built (${PROJECT_ROOT}/dist missing)` };
  }
  return { ok: true };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A timeout for Promise.race that does not keep the test process alive once the race is won. */
function deadlineAfter(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function removeTreeDepthFirst(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeTreeDepthFirst(join(dir, entry.name));
  }
  try {
    rmdirSync(dir);
  } catch {
    // still busy; the janitor of a later run will get it
  }
}

function procsIn(dir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string) => {
    try {
      for (const line of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n"))
        if (line) pids.push(Number(line));
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    } catch {
      // gone meanwhile
    }
  };
  walk(dir);
  return pids;
}

/** Kills everything in one container's cgroups (both hierarchies) and removes the directories. */
async function killAndRemoveCgroups(name: string): Promise<void> {
  const unified = join(CGROUP_ROOTS[0] ?? "", name);
  try {
    if (existsSync(join(unified, "cgroup.kill"))) writeFileSync(join(unified, "cgroup.kill"), "1");
  } catch {
    // fall back to kill(2) below
  }
  for (const root of CGROUP_ROOTS) {
    for (const pid of procsIn(join(root, name))) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  for (let i = 0; i < 50 && CGROUP_ROOTS.some((r) => procsIn(join(r, name)).length > 0); i++) await sleep(20);
  for (const root of CGROUP_ROOTS) removeTreeDepthFirst(join(root, name));
  try {
    rmdirSync(join(PROPAGATE_DIR, name));
  } catch {
    // absent or not empty
  }
}

/**
 * Removes what earlier runs left behind: containers named kh-<pid>-… whose test process is gone
 * (killed runner, kill -9 of nspawn). Containers of live test processes — other test files
 * running in parallel — are left alone, and so is anything not named by this harness.
 */
export async function janitor(): Promise<void> {
  const names = new Set<string>();
  for (const root of CGROUP_ROOTS) {
    try {
      for (const e of readdirSync(root, { withFileTypes: true })) if (e.isDirectory()) names.add(e.name);
    } catch {
      // no such hierarchy yet
    }
  }
  for (const name of names) {
    const owner = NAME_PATTERN.exec(name)?.[1];
    if (owner === undefined || pidAlive(Number(owner))) continue;
    await killAndRemoveCgroups(name);
  }
}

let counter = 0;

export class Container {
  readonly name: string;
  readonly leader: number;
  readonly logFile: string;
  readonly #nspawn: ChildProcess;
  readonly #exited: Promise<void>;
  #stopped = false;

  constructor(name: string, leader: number, nspawn: ChildProcess, exited: Promise<void>, logFile: string) {
    this.name = name;
    this.leader = leader;
    this.#nspawn = nspawn;
    this.#exited = exited;
    this.logFile = logFile;
  }

  /** The container's root directory as the host sees it. */
  get root(): string {
    return `/proc/${this.leader}/root`;
  }

  /** A path inside the container, as the host can open it (sockets included). */
  hostPath(inside: string): string {
    return `${this.root}${inside.startsWith("/") ? inside : `/${inside}`}`;
  }

  /** Runs argv inside as root, in no unit (use systemd-run inside for long-running things). */
  run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const env = { PATH: INSIDE_PATH, HOME: "/root", LANG: "C.UTF-8", ...(options.env ?? {}) };
    return this.#nsenter(argv, env, options);
  }

  /** Runs argv inside as `user` (its own uid, gid and groups). */
  runAsUser(user: string, argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const env = {
      PATH: INSIDE_PATH,
      HOME: `/home/${user}`,
      USER: user,
      LOGNAME: user,
      LANG: "C.UTF-8",
      ...(options.env ?? {}),
    };
    return this.#nsenter(
      ["setpriv", `--reuid=${user}`, `--regid=${user}`, "--init-groups", ...argv],
      env,
      options,
    );
  }

  /** `sh -c script` as root, or as `options.user`. */
  sh(script: string, options: RunOptions & { user?: string } = {}): Promise<RunResult> {
    const argv = ["/bin/sh", "-c", script];
    return options.user === undefined ? this.run(argv, options) : this.runAsUser(options.user, argv, options);
  }

  /** Like run, but throws with the command's stderr unless it exits 0. */
  async check(argv: readonly string[], options: RunOptions & { user?: string } = {}): Promise<RunResult> {
    const result =
      options.user === undefined
        ? await this.run(argv, options)
        : await this.runAsUser(options.user, argv, options);
    if (result.code !== 0) {
      throw new Error(
        `in container ${this.name}: ${argv.join(" ")} exited ${result.code ?? result.signal}: ${result.stderr.trim()}`,
      );
    }
    return result;
  }

  #nsenter(argv: readonly string[], env: Record<string, string>, options: RunOptions): Promise<RunResult> {
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const chdir = options.cwd === undefined ? [] : [`--chdir=${options.cwd}`];
    const args = ["-t", String(this.leader), "-a", "env", "-i", ...chdir, ...envArgs, ...argv];
    return new Promise((resolvePromise, reject) => {
      const child = spawn("nsenter", args, {
        env: { PATH: INSIDE_PATH },
        stdio: ["pipe", "pipe", "pipe"],
        timeout: options.timeoutMs ?? 60_000,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (c: Buffer) => out.push(c));
      child.stderr.on("data", (c: Buffer) => err.push(c));
      child.on("error", reject);
      child.stdin.on("error", () => {
        // the command may exit without reading its input
      });
      child.on("close", (code, signal) =>
        resolvePromise({
          code,
          signal,
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
        }),
      );
      child.stdin.end(options.input);
    });
  }

  /** Creates a user with its own group (useradd -m -U) and optional extra groups. */
  async addUser(user: string, options: { groups?: readonly string[]; uid?: number } = {}): Promise<void> {
    for (const g of options.groups ?? []) await this.addGroup(g);
    const args = ["useradd", "-m", "-U", "-s", "/bin/sh"];
    if (options.uid !== undefined) args.push("-u", String(options.uid));
    if (options.groups !== undefined && options.groups.length > 0) args.push("-G", options.groups.join(","));
    await this.check([...args, user]);
  }

  /** Creates a group unless it exists. */
  async addGroup(group: string): Promise<void> {
    const exists = await this.run(["getent", "group", group]);
    if (exists.code !== 0) await this.check(["groupadd", group]);
  }

  /** Writes a file inside the container (through /proc/<leader>/root). */
  writeFile(
    inside: string,
    content: string | Buffer,
    options: { mode?: number; uid?: number; gid?: number } = {},
  ): void {
    const path = this.hostPath(inside);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content, { mode: options.mode ?? 0o644 });
    if (options.uid !== undefined || options.gid !== undefined)
      chownSync(path, options.uid ?? -1, options.gid ?? -1);
  }

  readFile(inside: string): string {
    return readFileSync(this.hostPath(inside), "utf8");
  }

  /**
   * Writes unit files (paths relative to /etc/systemd/system, as renderUnit returns them) and
   * reloads systemd.
   */
  async installUnits(files: readonly { path: string; content: string }[]): Promise<void> {
    for (const f of files) this.writeFile(`/etc/systemd/system/${f.path}`, f.content);
    await this.check(["systemctl", "daemon-reload"]);
  }

  systemctl(...args: string[]): Promise<RunResult> {
    return this.run(["systemctl", "--no-pager", ...args]);
  }

  /** One property of a unit (`systemctl show -P`), e.g. "ActiveState", "ExecMainStatus". */
  async unitProperty(unit: string, property: string): Promise<string> {
    return (await this.check(["systemctl", "show", "-P", property, unit])).stdout.trim();
  }

  /** Waits until the unit's ActiveState is one of `states`; returns it, or throws on timeout. */
  async waitForUnit(unit: string, states: readonly string[], timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let state = "";
    while (Date.now() < deadline) {
      state = await this.unitProperty(unit, "ActiveState");
      if (states.includes(state)) return state;
      await sleep(50);
    }
    throw new Error(`unit ${unit} is ${state}, not ${states.join("/")}, after ${timeoutMs} ms`);
  }

  /** The journal inside, flushed first; `args` narrow it (e.g. ["-u", "my.service"]). */
  async journal(args: readonly string[] = []): Promise<string> {
    await this.run(["journalctl", "--sync"]);
    return (await this.check(["journalctl", "--no-pager", "-o", "short-precise", ...args])).stdout;
  }

  /**
   * Encrypts `value` inside the container with its own host key (`--with-key=host`; "auto" fails
   * there) into `file` (default /etc/credstore.encrypted/<name>), mode 0600. The value travels on
   * stdin. `embeddedName` lets a test build the name mismatch of a hand-made unit (a file whose embedded name is not
   * the name it is loaded under).
   */
  async encryptCredential(
    name: string,
    value: string,
    options: { file?: string; embeddedName?: string } = {},
  ): Promise<string> {
    const file = options.file ?? `/etc/credstore.encrypted/${name}`;
    await this.check(["mkdir", "-p", "-m", "0700", dirname(file)]);
    await this.check(
      ["systemd-creds", "encrypt", `--name=${options.embeddedName ?? name}`, "--with-key=host", "-", file],
      { input: value },
    );
    await this.check(["chmod", "0600", file]);
    return file;
  }

  /** Halts the container and removes its cgroups. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#nspawn.exitCode === null && this.#nspawn.signalCode === null) {
      this.#nspawn.kill("SIGTERM");
      const exited = await Promise.race([
        this.#exited.then(() => true),
        deadlineAfter(10_000).then(() => false),
      ]);
      if (!exited) {
        this.#nspawn.kill("SIGKILL");
        await killAndRemoveCgroups(this.name);
        await Promise.race([this.#exited, deadlineAfter(5_000)]);
      }
    }
    await killAndRemoveCgroups(this.name);
    rmSync(dirname(this.logFile), { recursive: true, force: true });
  }
}

function findLeader(nspawnPid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${nspawnPid}/task/${nspawnPid}/children`, "utf8")
      .trim()
      .split(/\s+/);
    for (const c of children) {
      if (!c) continue;
      try {
        if (readFileSync(`/proc/${c}/comm`, "utf8").trim() === "systemd") return Number(c);
      } catch {
        // exited meanwhile
      }
    }
  } catch {
    // nspawn gone
  }
  return undefined;
}

/** Boots a container and waits until its systemd reports running (or degraded). */
export async function bootContainer(options: BootOptions = {}): Promise<Container> {
  const support = containerSupport();
  if (!support.ok) throw new ContainerUnavailable(support.reason);
  const label = (options.label ?? "t").replace(/[^A-Za-z0-9-]/g, "-").slice(0, 20);
  const name = `kh-${process.pid}-${++counter}-${label}`;
  const cgroups = CGROUP_ROOTS.map((r) => join(r, name));
  for (const cg of cgroups) mkdirSync(cg, { recursive: true });

  const binds: Bind[] = [...(options.binds ?? [])];
  if (options.bindProject ?? true)
    binds.unshift({ host: PROJECT_ROOT, container: PROJECT_INSIDE, readOnly: true });
  const logDir = mkdtempSync(join(tmpdir(), "keyhold-nspawn-"));
  const logFile = join(logDir, "nspawn.log");
  const logFd = openSync(logFile, "w");
  const args = [
    "--quiet",
    "--directory=/",
    "--volatile=yes",
    "--register=no",
    "--keep-unit",
    `--machine=${name}`,
    "--console=read-only",
    "--private-network",
    ...binds.map((b) => `--bind${b.readOnly ? "-ro" : ""}=${b.host}:${b.container}`),
    ...(options.writableUsr ? ["--overlay=/usr::/usr"] : []),
    // nspawn's seccomp filter refuses bpf(2) by default; systemd inside then runs every unit
    // without its IP firewall, silently (IPAddressDeny= measured not enforced without this line).
    "--system-call-filter=bpf",
    "-b",
    "systemd.mask=systemd-firstboot.service",
  ];
  // The shell moves itself into the container's own cgroups, then becomes nspawn (same pid).
  const script = `for d in "$@"; do case "$d" in --*) break;; esac; echo $$ > "$d/cgroup.procs" || exit 90; shift; done; exec setpriv --pdeathsig SIGTERM systemd-nspawn "$@"`;
  const nspawn = spawn("/bin/sh", ["-c", script, "sh", ...cgroups, ...args], {
    stdio: ["ignore", logFd, logFd],
    env: { PATH: INSIDE_PATH, LANG: "C.UTF-8" },
  });
  closeSync(logFd);
  const exited = new Promise<void>((r) => nspawn.once("exit", () => r()));
  nspawn.once("error", () => undefined);
  const logTail = () => {
    try {
      return readFileSync(logFile, "utf8").trim().split("\n").slice(-5).join(" | ");
    } catch {
      return "";
    }
  };
  const fail = async (why: string): Promise<never> => {
    const tail = logTail();
    nspawn.kill("SIGTERM");
    await Promise.race([exited, deadlineAfter(5_000)]);
    await killAndRemoveCgroups(name);
    rmSync(logDir, { recursive: true, force: true });
    throw new ContainerUnavailable(`${why}${tail ? ` (nspawn: ${tail})` : ""}`);
  };

  const deadline = Date.now() + (options.bootTimeoutMs ?? 30_000);
  let leader: number | undefined;
  while (leader === undefined) {
    if (nspawn.exitCode !== null || nspawn.pid === undefined)
      return fail(`systemd-nspawn exited with ${nspawn.exitCode}`);
    if (Date.now() > deadline) return fail("the container's systemd did not appear");
    leader = findLeader(nspawn.pid);
    if (leader === undefined) await sleep(20);
  }
  const container = new Container(name, leader, nspawn, exited, logFile);
  let state = "";
  while (true) {
    if (nspawn.exitCode !== null) return fail(`systemd-nspawn exited with ${nspawn.exitCode} during boot`);
    if (Date.now() > deadline) {
      await container.stop();
      throw new ContainerUnavailable(`the container did not finish booting (state ${state || "unknown"})`);
    }
    const r = await container.run(["systemctl", "is-system-running"], { timeoutMs: 3_000 });
    state = r.stdout.trim();
    if (state === "running" || state === "degraded") return container;
    await sleep(50);
  }
}

export interface ContainerSuite {
  container: Container | undefined;
  skipReason: string | undefined;
  stop(): Promise<void>;
}

/**
 * One container for a test file: runs the janitor, boots, and turns "this machine cannot boot a
 * container" into a skip reason. Set KEYHOLD_REQUIRE_CONTAINER=1 (CI on machines that can boot)
 * to turn a failed boot into a failure instead.
 */
export async function bootForSuite(options: BootOptions = {}): Promise<ContainerSuite> {
  const support = containerSupport();
  if (!support.ok) {
    if (process.env.KEYHOLD_REQUIRE_CONTAINER === "1")
      throw new Error(`container required but unavailable: ${support.reason}`);
    return { container: undefined, skipReason: support.reason, stop: async () => undefined };
  }
  await janitor();
  try {
    const container = await bootContainer(options);
    return { container, skipReason: undefined, stop: () => container.stop() };
  } catch (err) {
    if (err instanceof ContainerUnavailable && process.env.KEYHOLD_REQUIRE_CONTAINER !== "1") {
      return {
        container: undefined,
        skipReason: `cannot boot a systemd container: ${err.message}`,
        stop: async () => undefined,
      };
    }
    throw err;
  }
}

/** The suite's container, or undefined after marking the test skipped with the reason. */
export function needContainer(t: TestContext, suite: ContainerSuite): Container | undefined {
  if (suite.container === undefined) {
    t.skip(suite.skipReason ?? "no container");
    return undefined;
  }
  return suite.container;
}
