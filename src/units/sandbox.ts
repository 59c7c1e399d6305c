/**
 * The sandboxes of the rendered units: the one isolated services and the job server share, and
 * the one of the root processes that open the vault (its answering units, the rotation timer).
 */

/** What a sandboxed service may not change about the host: kernel settings, cgroups, clock, name. */
const KERNEL_PROTECTIONS = [
  "ProtectKernelTunables=yes",
  "ProtectKernelModules=yes",
  "ProtectKernelLogs=yes",
  "ProtectControlGroups=yes",
  "ProtectClock=yes",
  "ProtectHostname=yes",
] as const;

/** Kernel features a sandboxed service has no use for. */
const RESTRICTIONS = [
  "RestrictNamespaces=yes",
  "RestrictRealtime=yes",
  "RestrictSUIDSGID=yes",
  "LockPersonality=yes",
] as const;

/**
 * What the job server needs beyond the shared sandbox to give each run namespaces of its own
 * (src/jobs/sandbox.ts): creating user, mount, PID and IPC namespaces, and mount(2) inside them.
 * Neither gives the server anything outside: it holds no capability in the unit's own namespaces.
 */
const JOB_NAMESPACES = {
  restrict: "RestrictNamespaces=user mnt pid ipc",
  syscalls: "SystemCallFilter=@mount",
} as const;

/**
 * The sandbox shared by isolated services and the job server. ProcSubset=pid is left out: it hides
 * /proc/cpuinfo and /proc/meminfo, and then Node's os.cpus() returns [] and `free` fails (measured
 * in the container), which breaks worker pools sized by the CPU count.
 */
export function sandboxDirectives(
  protectHome: "yes" | "tmpfs",
  umask: string,
  network: boolean,
  jobNamespaces: boolean,
): string[] {
  return [
    "# The sandbox (docs/units.md says why each line is here and what it costs)",
    "NoNewPrivileges=yes",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "PrivateUsers=yes",
    "PrivateIPC=yes",
    "ProtectSystem=strict",
    `ProtectHome=${protectHome}`,
    ...KERNEL_PROTECTIONS,
    "ProtectProc=invisible",
    ...(jobNamespaces
      ? [
          "# Each job runs in user, mount, PID and IPC namespaces of its own (docs/jobserver.md)",
          JOB_NAMESPACES.restrict,
          ...RESTRICTIONS.filter((r) => !r.startsWith("RestrictNamespaces=")),
        ]
      : RESTRICTIONS),
    "RemoveIPC=yes",
    "KeyringMode=private",
    "DevicePolicy=closed",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
    ...(jobNamespaces ? [JOB_NAMESPACES.syscalls] : []),
    "SystemCallFilter=~@privileged @resources",
    "SystemCallErrorNumber=EPERM",
    ...(network
      ? ["RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"]
      : [
          "# No host to reach was given (--ip-allow): no network at all, Unix sockets only",
          "PrivateNetwork=yes",
          "RestrictAddressFamilies=AF_UNIX",
        ]),
    "# MemoryDenyWriteExecute=yes is left out on purpose: V8's JIT needs writable+executable memory",
    `UMask=${umask}`,
  ];
}

/** Paths that ProtectHome= hides; a bind below one of them needs ProtectHome=tmpfs. */
export function underHome(path: string): boolean {
  return ["/home", "/root", "/run/user"].some((dir) => path === dir || path.startsWith(`${dir}/`));
}

/**
 * The sandbox of a root process that opens the vault (the answering units, the rotation): root for
 * its uid, since it owns the vault, the master credential and the audit log, with no capabilities;
 * it can write only `writable`. ProtectHome=yes would hide anything under /home, /root or
 * /run/user, even from ReadWritePaths=. A PostgreSQL vault (`network`) needs root's ~/.pgpass and
 * client certificates: the homes stay readable. Otherwise they are an empty tmpfs, with what the
 * process needs bound in.
 */
export function vaultRootSandbox(options: {
  writable: readonly string[];
  readOnly: readonly string[];
  network: boolean;
  /**
   * The comments that say why it runs as root, may use the TPM and needs the network (default:
   * the vault's reasons), for a root process that is not the vault's.
   */
  why?: { root?: string; tpm?: string; network?: string };
}): string[] {
  const why = {
    root: "it owns the vault, the host key and the audit log",
    tpm: "to read the vault's master credential",
    network: "The vault is on PostgreSQL",
    ...options.why,
  };
  const homeReads = options.readOnly.filter(underHome);
  const homeWrites = options.writable.filter(underHome);
  const protectHome = options.network
    ? ["ProtectHome=read-only"]
    : homeReads.length + homeWrites.length > 0
      ? [
          "ProtectHome=tmpfs",
          ...homeReads.map((p) => `BindReadOnlyPaths=${p}`),
          ...homeWrites.map((p) => `BindPaths=-${p}`),
        ]
      : ["ProtectHome=yes"];
  return [
    "LimitCORE=0",
    "UMask=0077",
    `# Root for its uid (${why.root}), with no capabilities`,
    "CapabilityBoundingSet=",
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "PrivateMounts=yes",
    "ProtectSystem=strict",
    `ReadWritePaths=${options.writable.map((p) => `-${p}`).join(" ")}`,
    ...protectHome,
    ...KERNEL_PROTECTIONS,
    ...RESTRICTIONS,
    `# systemd-creds may need the TPM ${why.tpm}`,
    "DevicePolicy=closed",
    "DeviceAllow=/dev/tpmrm0 rw",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
    "SystemCallFilter=~@privileged @resources",
    "SystemCallErrorNumber=EPERM",
    ...(options.network
      ? [`# ${why.network}`, "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"]
      : ["RestrictAddressFamilies=AF_UNIX", "IPAddressDeny=any"]),
  ];
}
