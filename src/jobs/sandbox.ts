import { realpathSync, statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { isAbsolute, posix } from "node:path";
import { systemTool } from "../systemd/index.js";
import { WALK } from "./logs.js";

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
 *              file by an empty file), each one, a hidden directory inside another hidden one
 *              included: '..' from a mount below climbs beneath the outer cover, and must meet
 *              another. The job cannot unmount them: those mounts belong to the first user
 *              namespace, where the job holds no capability, and any namespace the job makes
 *              itself gets them locked.
 *   - provide: directories the server made for this run (its credential directory, the commit
 *              snapshot) are bound at the job's path of them. They are bound before anything is
 *              hidden (they live in hidden places), from paths only the server can change.
 *   - keep:    the developers' directories the job works in (outputs, the live cwd) when a mount
 *              above would cover them. A developer may swap any name on their path at any time,
 *              so the init never follows a link there: the server opens each one first (logs.ts
 *              walk) and hands the descriptor over; the init finds the path again the same way,
 *              binds it by descriptor, and only if it is the very directory the server opened
 *              (device, inode, owner). A descriptor of the server's mount namespace cannot be
 *              bound in the run's own (the kernel refuses with EINVAL), hence the second walk.
 *   - The init never enters the stage (it reaches it by descriptor) and closes every descriptor
 *     the server did not hand over on purpose, so the job inherits only stdin, stdout, stderr.
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
  /**
   * The descriptor number, in the init, of each `keep` directory that gets bound (keptDirectories),
   * as the server opened it without following a link.
   */
  held: Readonly<Record<string, number>>;
  scratch: readonly string[];
  /** The job's working directory, entered after every mount. */
  cwd: string;
}

/** Private per-run scratch directories, where they exist. */
export const SCRATCH_DIRECTORIES: readonly string[] = ["/tmp", "/var/tmp", "/dev/shm"];

/** The system calls INIT makes by number (perl's syscall()): they differ per architecture. */
const SYSCALLS: Readonly<Record<string, { mount: number; unshare: number; prctl: number; close: number }>> = {
  x64: { mount: 165, unshare: 272, prctl: 157, close: 3 },
  arm64: { mount: 40, unshare: 97, prctl: 167, close: 57 },
};

/**
 * The run's init, pid 1 of its PID namespace, root of the first user namespace until it has laid
 * out the mounts. Arguments: syscall numbers, the open() flags of one step of a walk, the uid/gid
 * the job gets, its cwd, the number of environment entries, the descriptors handed over (comma
 * separated), the mount operations up to "--", the environment entries, the job's argv.
 * fd 3 receives one line: "exit N" or "signal N" (the job's wait status), "exec ERRNO",
 * "cwd ERRNO", or "setup ERRNO WHAT" when the namespace could not be laid out (ESTALE: a kept
 * directory is no longer the one the server opened).
 */
const INIT = String.raw`
use strict;
# No module beyond strict: POSIX, Fcntl and constant would triple perl's start-up time, paid
# by every run. The numbers are Linux's (<sys/mount.h>, <sched.h>, <sys/prctl.h>, <fcntl.h>, <errno.h>).
my ($MS_RDONLY, $MS_NOSUID, $MS_NODEV, $MS_NOEXEC, $MS_REMOUNT, $MS_BIND, $MS_REC) = (1, 2, 4, 8, 32, 4096, 16384);
my ($CLONE_NEWUSER, $PR_SET_DUMPABLE, $F_SETFD, $FD_CLOEXEC, $ESTALE) = (0x10000000, 4, 2, 1, 116);
my ($sys_mount, $sys_unshare, $sys_prctl, $sys_close, $WALK, $uid, $gid, $cwd, $nenv, $held) = splice(@ARGV, 0, 10);
open(my $report, '>&=', 3) or exit 125;
sub report { syswrite($report, "$_[0]\n") }
sub fail { report('setup ' . ($! + 0) . " $_[0]"); exit 125 }
sub mnt { my @args = @_; syscall($sys_mount + 0, @args) == 0 }  # copies: syscall() wants writable scalars
sub close_fd { syscall($sys_close + 0, $_[0] + 0) }
sub mkdir_p { my $at = ''; for (grep { length } split m{/}, $_[0]) { $at .= "/$_"; mkdir($at, 0755) or -d $at or return 0 } 1 }
sub write_file { open(my $f, '>', $_[0]) or return 0; syswrite($f, $_[1]) // return 0; close($f) }
# A directory's identity: device, inode, owner; empty for anything but a directory.
sub identity { my @s = stat($_[0]); @s && -d _ ? "$s[0]:$s[1]:$s[4]" : '' }
# Opens the directory at the absolute path $_[0] one name at a time from a held descriptor,
# never through a symbolic link (as the server's logs.ts walk does).
sub walk {
  sysopen(my $at, '/', $WALK) or return undef;
  for my $name (grep { length } split m{/}, $_[0]) {
    sysopen(my $next, '/proc/self/fd/' . fileno($at) . "/$name", $WALK) or return undef;
    $at = $next;
  }
  $at
}
# Only the descriptors the server handed over on purpose stay open: a server started by hand
# may hold inherited ones without close-on-exec, and they must not reach the job.
my @held = split /,/, $held;
my %keep = map { $_ => 1 } 0, 1, 2, 3, @held;
opendir(my $fds, '/proc/self/fd') or fail('descriptors');
my @stray = grep { /^[0-9]+$/ && !$keep{$_} } readdir($fds);
closedir($fds);
close_fd($_) for @stray;
# Same uid as the job: without this the job could read and write this process's memory.
syscall($sys_prctl + 0, $PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 or fail('prctl');
# Never inside the stage: '..' from a mount's root climbs beneath whatever hides its parent.
chdir('/') or fail('chdir');
# The stage's own mount, reached through its descriptor once its path is hidden.
my $stage;
sub staged { '/proc/self/fd/' . fileno($stage) . "/$_[0]" }
while (@ARGV) {
  my $op = shift @ARGV;
  last if $op eq '--';
  my $path = shift @ARGV;
  if ($op eq 'stage') {
    mnt('keyhold', $path, 'tmpfs', $MS_NOSUID | $MS_NODEV | $MS_NOEXEC, 'mode=0700,size=64k') or fail("stage $path");
    sysopen($stage, $path, $WALK) or fail("stage $path");
    write_file(staged('empty'), '') or fail('stage');
  } elsif ($op eq 'stage-bind') {
    my $name = shift @ARGV;
    mkdir(staged($name), 0700) or fail("stage $name");
    mnt($path, staged($name), 0, $MS_BIND | $MS_REC, 0) or fail("bind $path");
  } elsif ($op eq 'keep') {
    # A developer's directory: the one the server opened without following a link (inherited
    # descriptor $fd, which cannot be bound: it belongs to the server's mount namespace), found
    # again here the same way and bound by descriptor only if it is that very directory.
    my ($fd, $name) = splice(@ARGV, 0, 2);
    my $want = identity("/proc/self/fd/$fd") or fail("keep $path");
    my $dir = walk($path) or fail("keep $path");
    my $found = '/proc/self/fd/' . fileno($dir);
    identity($found) eq $want or do { $! = $ESTALE; fail("keep $path") };
    mkdir(staged($name), 0700) or fail("stage $name");
    mnt($found, staged($name), 0, $MS_BIND | $MS_REC, 0) or fail("bind $path");
    identity(staged($name)) eq $want or do { $! = $ESTALE; fail("keep $path") };
  } elsif ($op eq 'hide') {
    my $ok = -d $path
      ? mnt('keyhold', $path, 'tmpfs', $MS_NOSUID | $MS_NODEV | $MS_NOEXEC, 'mode=0755,size=1m,nr_inodes=1024')
      : mnt(staged('empty'), $path, 0, $MS_BIND, 0);
    $ok or fail("hide $path");
  } elsif ($op eq 'seal') {
    mnt(0, $path, 0, $MS_REMOUNT | $MS_BIND | $MS_RDONLY | $MS_NOSUID | $MS_NODEV | $MS_NOEXEC, 0) or fail("seal $path");
  } elsif ($op eq 'scratch') {
    mnt('keyhold', $path, 'tmpfs', $MS_NOSUID | $MS_NODEV, 'mode=1777') or fail("scratch $path");
  } elsif ($op eq 'mkdir') {
    mkdir_p($path) or fail("mkdir $path");
  } elsif ($op eq 'bind') {
    my $name = shift @ARGV;
    mnt(staged($name), $path, 0, $MS_BIND | $MS_REC, 0) or fail("bind $path");
  } elsif ($op eq 'read-only') {
    # Best effort: flags the kernel keeps locked on the source can make it refuse.
    mnt(0, $path, 0, $MS_REMOUNT | $MS_BIND | $MS_RDONLY | $MS_NOSUID | $MS_NODEV, 0);
  } else {
    $! = 0; fail("unknown operation $op");
  }
}
close($stage) if defined $stage;
close_fd($_) for @held;
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

interface Layout {
  /** Every hidden path that exists, deepest first: a nested one must be covered before its parent. */
  hidden: string[];
  scratch: string[];
  /** The `keep` directories a mount made here covers: they are bound again. */
  keep: string[];
}

function layout(plan: Omit<SandboxPlan, "held">): Layout {
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
  const candidates = plan.hide.flatMap((p) => existingTarget(p) ?? []).filter((p) => p !== "/");
  const hidden = [...new Set(candidates)].sort((a, b) => depth(b) - depth(a));
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
  // A developers' directory needs binding again only where a mount made here covers it.
  const keep = [...new Set(plan.keep)].filter((k) =>
    [...hidden, ...scratch, ...provided].some((m) => isUnder(k, m) && k !== m),
  );
  return { hidden, scratch, keep };
}

/** The `keep` directories the run's init binds: the server opens each and hands it over (`held`). */
export function keptDirectories(plan: Omit<SandboxPlan, "held">): string[] {
  return layout(plan).keep;
}

/**
 * The mount operations INIT carries out, in an order where each step can only narrow what the
 * job sees: stage the server's own directories; hide the server's paths, the innermost first
 * (making inside the outermost the directories the server's own directories go to), each sealed
 * read-only; stage the developers' directories (by the descriptors the server opened; nothing
 * secret is reachable from them now); the scratch directories; every bind at its place,
 * shallowest first.
 */
export function mountOperations(plan: SandboxPlan): string[] {
  const { hidden, scratch, keep } = layout(plan);
  const provided = plan.provide.map((x) => x.target);
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
    const outermost = !hidden.some((o) => o !== h && isUnder(h, o));
    if (outermost) for (const t of provided) if (isUnder(t, h) && t !== h) ops.push("mkdir", t);
    ops.push("seal", h);
  }
  keep.forEach((k, i) => {
    const fd = plan.held[k];
    if (fd === undefined) throw new SandboxError(`${k} was not opened for the run`);
    ops.push("keep", k, String(fd), `k${i}`);
  });
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
      String(numbers.close),
      String(WALK),
      String(ids.uid),
      String(ids.gid),
      plan.cwd,
      String(pairs.length),
      Object.values(plan.held).join(","),
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
