import { realpathSync, statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { isAbsolute, posix } from "node:path";
import { systemTool } from "../systemd/index.js";

/**
 * Each run's own namespaces (docs/jobserver.md, "What each run gets"). A job runs under the
 * server's own uid, so file permissions cannot keep it from the server's credentials, state,
 * audit log or memory. Namespaces can:
 *
 *   util-linux `unshare --user --map-root-user --mount --pid --ipc --fork --kill-child --mount-proc`
 *   makes a user namespace where the server's uid is root, a mount namespace, a PID namespace
 *   whose /proc shows only the run's processes, and a private System V IPC space. Inside, the
 *   run's init (INIT below, perl: the one interpreter every Debian system has, Essential: yes)
 *   lays out the job's view with mount(2), then leaves the namespace's root for a second user
 *   namespace in which it keeps no power over the mounts, forks the job, forwards signals to it,
 *   reaps orphans and reports the job's exact wait status on fd 3.
 *
 * The job's view:
 *   - hide:    the server's private paths ($CREDENTIALS_DIRECTORY, /run/credentials, the state
 *              and runtime directories, the audit log) are covered by empty read-only tmpfs (a
 *              file by an empty file). The job cannot unmount them: those mounts belong to the
 *              first user namespace, where the job holds no capability, and any namespace the
 *              job makes itself gets them locked.
 *   - provide: directories the server made for this run (its credential directory, the commit
 *              snapshot) are bound at the job's path of them. They are bound before anything is
 *              hidden (they live in hidden places), from paths only the server can change.
 *   - keep:    the developers' directories the job works in (outputs, the live cwd) when a mount
 *              above would cover them. They are looked up only after the server's paths are
 *              hidden, so a symbolic link a developer plants there can lead nowhere secret.
 *   - scratch: /tmp, /var/tmp and /dev/shm are new empty tmpfs, so one run cannot leave files
 *              (a ~/.npmrc under HOME=/tmp, a socket) for the next.
 *   - /proc is the run's own; the server's PID is not a number the job can name.
 * When the job's main process exits, the init exits and the kernel kills whatever is left in the
 * PID namespace: nothing a run starts outlives it (a daemon that called setsid included).
 */

/** What one run sees; every path absolute and normalised. */
export interface SandboxPlan {
  /** An empty directory only the server can reach, mounted over with a small tmpfs to stage binds. */
  stage: string;
  hide: readonly string[];
  provide: readonly { source: string; target: string; readOnly: boolean }[];
  keep: readonly string[];
  scratch: readonly string[];
  /** The job's working directory, entered after every mount. */
  cwd: string;
}

/** Private per-run scratch directories, where they exist. */
export const SCRATCH_DIRECTORIES: readonly string[] = ["/tmp", "/var/tmp", "/dev/shm"];

/** The system calls INIT makes by number (perl's syscall()): they differ per architecture. */
const SYSCALLS: Readonly<Record<string, { mount: number; unshare: number; prctl: number }>> = {
  x64: { mount: 165, unshare: 272, prctl: 157 },
  arm64: { mount: 40, unshare: 97, prctl: 167 },
};

/**
 * The run's init, pid 1 of its PID namespace, root of the first user namespace until it has laid
 * out the mounts. Arguments: syscall numbers, the uid/gid the job gets, its cwd, the number of
 * environment entries, the mount operations up to "--", the environment entries, the job's argv.
 * fd 3 receives one line: "exit N" or "signal N" (the job's wait status), "exec ERRNO",
 * "cwd ERRNO", or "setup ERRNO WHAT" when the namespace could not be laid out.
 */
const INIT = String.raw`
use strict;
# No module beyond strict: POSIX, Fcntl and constant would triple perl's start-up time, paid
# by every run. The numbers are Linux's (<sys/mount.h>, <sched.h>, <sys/prctl.h>, <fcntl.h>).
my ($MS_RDONLY, $MS_NOSUID, $MS_NODEV, $MS_NOEXEC, $MS_REMOUNT, $MS_BIND, $MS_REC) = (1, 2, 4, 8, 32, 4096, 16384);
my ($CLONE_NEWUSER, $PR_SET_DUMPABLE, $F_SETFD, $FD_CLOEXEC) = (0x10000000, 4, 2, 1);
my ($sys_mount, $sys_unshare, $sys_prctl, $uid, $gid, $cwd, $nenv) = splice(@ARGV, 0, 7);
open(my $report, '>&=', 3) or exit 125;
sub report { syswrite($report, "$_[0]\n") }
sub fail { report('setup ' . ($! + 0) . " $_[0]"); exit 125 }
sub mnt { my @args = @_; syscall($sys_mount + 0, @args) == 0 }  # copies: syscall() wants writable scalars
sub mkdir_p { my $at = ''; for (grep { length } split m{/}, $_[0]) { $at .= "/$_"; mkdir($at, 0755) or -d $at or return 0 } 1 }
sub write_file { open(my $f, '>', $_[0]) or return 0; syswrite($f, $_[1]) // return 0; close($f) }
# Same uid as the job: without this the job could read and write this process's memory.
syscall($sys_prctl + 0, $PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 or fail('prctl');
while (@ARGV) {
  my $op = shift @ARGV;
  last if $op eq '--';
  my $path = shift @ARGV;
  if ($op eq 'stage') {
    mnt('keyhold', $path, 'tmpfs', $MS_NOSUID | $MS_NODEV | $MS_NOEXEC, 'mode=0700,size=64k') or fail("stage $path");
    chdir($path) or fail("stage $path");
    write_file('empty', '') or fail('stage');
  } elsif ($op eq 'stage-bind') {
    my $name = shift @ARGV;
    mkdir($name, 0700) or fail("stage $name");
    mnt($path, $name, 0, $MS_BIND | $MS_REC, 0) or fail("bind $path");
  } elsif ($op eq 'hide') {
    my $ok = -d $path
      ? mnt('keyhold', $path, 'tmpfs', $MS_NOSUID | $MS_NODEV | $MS_NOEXEC, 'mode=0755,size=1m,nr_inodes=1024')
      : mnt('empty', $path, 0, $MS_BIND, 0);
    $ok or fail("hide $path");
  } elsif ($op eq 'seal') {
    mnt(0, $path, 0, $MS_REMOUNT | $MS_BIND | $MS_RDONLY | $MS_NOSUID | $MS_NODEV | $MS_NOEXEC, 0) or fail("seal $path");
  } elsif ($op eq 'scratch') {
    mnt('keyhold', $path, 'tmpfs', $MS_NOSUID | $MS_NODEV, 'mode=1777') or fail("scratch $path");
  } elsif ($op eq 'mkdir') {
    mkdir_p($path) or fail("mkdir $path");
  } elsif ($op eq 'bind') {
    my $name = shift @ARGV;
    mnt($name, $path, 0, $MS_BIND | $MS_REC, 0) or fail("bind $path");
  } elsif ($op eq 'read-only') {
    # Best effort: flags the kernel keeps locked on the source can make it refuse.
    mnt(0, $path, 0, $MS_REMOUNT | $MS_BIND | $MS_RDONLY | $MS_NOSUID | $MS_NODEV, 0);
  } else {
    $! = 0; fail("unknown operation $op");
  }
}
chdir('/') or fail('chdir');
# From here on this process holds no capability over the mounts above: the job, same uid, in
# the same new user namespace, gains nothing by taking it over.
syscall($sys_unshare + 0, $CLONE_NEWUSER) == 0 or fail('user namespace');
write_file('/proc/self/setgroups', 'deny') or fail('setgroups');
write_file('/proc/self/uid_map', "$uid 0 1") or fail('uid_map');
write_file('/proc/self/gid_map', "$gid 0 1") or fail('gid_map');
my %env = map { split /=/, $_, 2 } splice(@ARGV, 0, $nenv);
my @signals = qw(TERM INT HUP QUIT USR1 USR2);
my $job = 0;
$SIG{$_} = sub { kill($_[0], $job) if $job } for @signals;
$job = fork() // fail('fork');
if ($job == 0) {
  $SIG{$_} = 'DEFAULT' for @signals;
  fcntl($report, $F_SETFD, $FD_CLOEXEC);
  chdir($cwd) or do { report('cwd ' . ($! + 0)); exit 127 };
  %ENV = %env;
  exec { $ARGV[0] } @ARGV;
  report('exec ' . ($! + 0));
  exit 127;
}
while (1) {
  my $pid = waitpid(-1, 0);
  exit 125 if $pid < 0;
  next if $pid != $job;
  report(($? & 127) ? 'signal ' . ($? & 127) : 'exit ' . ($? >> 8));
  exit 0;
}
`;

/** `dir` itself or anything below it. */
function isUnder(path: string, dir: string): boolean {
  return dir === "/" || path === dir || path.startsWith(`${dir}/`);
}

function depth(path: string): number {
  return path === "/" ? 0 : path.split("/").length - 1;
}

/** The path the kernel will mount over (a hidden directory reached through a symlink is hidden at its target), if it exists. */
function existingTarget(path: string): string | undefined {
  try {
    const real = realpathSync.native(path);
    const st = statSync(real);
    return st.isDirectory() || st.isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

export class SandboxError extends Error {
  override readonly name = "SandboxError";
}

/**
 * The mount operations INIT carries out, in an order where each step can only narrow what the
 * job sees: stage the server's own directories; hide the server's paths (making inside them the
 * directories the server's own directories go to) and seal them read-only; stage the developers'
 * directories (now nothing secret is reachable through them); the scratch directories; every
 * bind at its place, shallowest first.
 */
export function mountOperations(plan: SandboxPlan): string[] {
  for (const p of [
    plan.stage,
    plan.cwd,
    ...plan.hide,
    ...plan.keep,
    ...plan.scratch,
    ...plan.provide.map((x) => x.target),
  ]) {
    if (!isAbsolute(p) || posix.normalize(p) !== p || (p.endsWith("/") && p !== "/"))
      throw new SandboxError(`not a normalised absolute path: ${JSON.stringify(p.slice(0, 200))}`);
  }
  const hidden: string[] = [];
  const candidates = plan.hide.flatMap((p) => existingTarget(p) ?? []).filter((p) => p !== "/");
  for (const p of [...new Set(candidates)].sort((a, b) => depth(a) - depth(b)))
    if (!hidden.some((h) => isUnder(p, h))) hidden.push(p);
  const provided = plan.provide.map((x) => x.target);
  const live = [...plan.keep, ...(provided.some((t) => isUnder(plan.cwd, t)) ? [] : [plan.cwd])];
  for (const p of live) {
    const over = hidden.find((h) => isUnder(p, h));
    if (over !== undefined) throw new SandboxError(`${p} is inside ${over}, which jobs may not see`);
  }
  // A job that works in /tmp itself keeps it: a scratch directory is for what the job does not name.
  const scratch = plan.scratch.filter(
    (p) => existingTarget(p) === p && !hidden.some((h) => isUnder(p, h)) && !live.includes(p),
  );
  const tmpfs = [...hidden, ...scratch];
  // A developers' directory needs binding again only where a mount made here covers it.
  const keep = [...new Set(plan.keep)].filter((k) =>
    [...tmpfs, ...provided].some((m) => isUnder(k, m) && k !== m),
  );
  const binds = [
    ...plan.provide.map((x, i) => ({ target: x.target, name: `p${i}`, readOnly: x.readOnly, order: 0 })),
    ...keep.map((k, i) => ({ target: k, name: `k${i}`, readOnly: false, order: 1 })),
  ].sort((a, b) => depth(a.target) - depth(b.target) || a.order - b.order);

  const ops: string[] = ["stage", plan.stage];
  plan.provide.forEach((x, i) => {
    ops.push("stage-bind", x.source, `p${i}`);
  });
  for (const h of hidden) {
    ops.push("hide", h);
    for (const t of provided) if (isUnder(t, h) && t !== h) ops.push("mkdir", t);
    ops.push("seal", h);
  }
  for (const b of binds) if (b.order === 1) ops.push("stage-bind", b.target, b.name);
  for (const p of scratch) ops.push("scratch", p);
  for (const b of binds) {
    if (scratch.some((s) => isUnder(b.target, s) && b.target !== s)) ops.push("mkdir", b.target);
    ops.push("bind", b.target, b.name);
  }
  for (const b of binds) if (b.readOnly) ops.push("read-only", b.target);
  return ops;
}

export interface SandboxCommand {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** The command that runs `argv` with `env` inside the plan's namespaces, its outcome on fd 3. */
export function sandboxCommand(
  plan: SandboxPlan,
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  ids: { uid: number; gid: number },
): SandboxCommand {
  const numbers = SYSCALLS[process.arch];
  if (numbers === undefined) throw new SandboxError(`jobs cannot be isolated on ${process.arch}`);
  const pairs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return {
    command: systemTool("unshare"),
    args: [
      "--user",
      "--map-root-user",
      "--mount",
      "--pid",
      "--ipc",
      "--fork",
      "--kill-child",
      "--mount-proc",
      "--",
      systemTool("perl"),
      "-e",
      INIT,
      String(numbers.mount),
      String(numbers.unshare),
      String(numbers.prctl),
      String(ids.uid),
      String(ids.gid),
      plan.cwd,
      String(pairs.length),
      ...mountOperations(plan),
      "--",
      ...pairs,
      ...argv,
    ],
    // Nothing of the job's environment reaches the tools that set it up (PERL5OPT and the like):
    // INIT hands it to the job alone.
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" },
  };
}

export type SandboxOutcome =
  | { kind: "exit"; code: number }
  | { kind: "signal"; signal: string }
  | { kind: "exec"; errno: string }
  | { kind: "cwd"; errno: string }
  | { kind: "setup"; errno: string; what: string };

function errnoName(n: number): string {
  const found = Object.entries(osConstants.errno).find(([, v]) => v === n);
  return found?.[0] ?? `errno ${n}`;
}

function signalName(n: number): string {
  const found = Object.entries(osConstants.signals).find(([, v]) => v === n);
  return found?.[0] ?? `SIG${n}`;
}

/** What INIT wrote on fd 3, or undefined when it wrote nothing it could have written. */
export function parseSandboxReport(text: string): SandboxOutcome | undefined {
  const line = text.split("\n").find((l) => l !== "") ?? "";
  let m = /^(exit|signal) ([0-9]{1,3})$/.exec(line);
  if (m)
    return m[1] === "exit"
      ? { kind: "exit", code: Number(m[2]) }
      : { kind: "signal", signal: signalName(Number(m[2])) };
  m = /^(exec|cwd) ([0-9]{1,4})$/.exec(line);
  if (m) return { kind: m[1] as "exec" | "cwd", errno: errnoName(Number(m[2])) };
  m = /^setup ([0-9]{1,4}) (.{1,300})$/.exec(line);
  if (m) return { kind: "setup", errno: errnoName(Number(m[1])), what: m[2] as string };
  return undefined;
}
