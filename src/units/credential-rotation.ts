import { createHash } from "node:crypto";
import { spanSeconds, type UnitFile } from "../systemd/index.js";
import { quoteExecArgument, renderExecLine, splitCommandLine } from "./exec.js";
import { assertVisibleInSandbox, PRIVATE_TMP } from "./render.js";
import { vaultRootSandbox } from "./sandbox.js";
import { assertUnitPath, isUnitPath, section, unitText, usage } from "./text.js";

/**
 * The service and timer of `keyhold rotate NAME --render-timer --every SPAN --from-command CMD`: a
 * credential store value rotated on schedule from its provider's command (docs/units.md
 * "Scheduled rotation").
 */

const RENDERED_BY = "keyhold rotate --render-timer";

/** The shortest and longest --every: checks run hourly, and systemd counts no further than this. */
const EVERY_MIN_S = 3600;
const EVERY_MAX_S = 10 * 31_557_600;
/** Spans shorter than this are checked hourly, longer ones daily. */
const DAILY_FROM_S = 2 * 86_400;

/**
 * --every (and --if-older-than) in seconds: a systemd time span written without blanks and with a
 * unit on every number ("30d", "1w", "12h", "1d12h"), from one hour to ten years. A bare number
 * ("30", seconds to systemd) is refused: it is most likely a forgotten "d".
 */
export function rotationSpan(option: string, text: string): number {
  const seconds = /^([0-9]{1,6}[A-Za-z]+){1,4}$/.test(text) ? spanSeconds(text) : Number.NaN;
  if (!Number.isFinite(seconds))
    throw usage(
      `${option} must be a time span such as 30d, 12h or 1w, got ${JSON.stringify(text.slice(0, 40))}`,
      "units: min, h, d, w, month, y; no blanks, a unit on every number",
    );
  if (seconds < EVERY_MIN_S || seconds > EVERY_MAX_S)
    throw usage(`${option} must be between 1h and 10y, got ${JSON.stringify(text)}`);
  return seconds;
}

/**
 * keyhold-rotate-NAME, or keyhold-rotate:<10 hex digits of SHA-256(NAME)> for a name that a unit
 * name cannot hold (a credential name may hold any printable character but '/' and ':', so the
 * two forms never meet).
 */
export function credentialRotationUnit(name: string): string {
  if (/^[A-Za-z0-9_.-]{1,100}$/.test(name) && !name.includes("..")) return `keyhold-rotate-${name}`;
  return `keyhold-rotate:${createHash("sha256").update(name).digest("hex").slice(0, 10)}`;
}

export interface CredentialRotationTimerOptions {
  /** The keyhold command: its path, or a command line whose first word is an absolute path. */
  exec: string;
  store: string;
  state: string;
  /** The credential, already checked (a name keyhold may rotate, present in the store). */
  name: string;
  /** --every, as given. */
  every: string;
  /** --from-command, already checked (valueCommandWords). */
  command: string;
  /** --restart and its options; undefined: a plain rotation. */
  restart?: { settleS?: number; timeoutS?: number; rollback: boolean };
  /** More options of `rotate`, already checked (--with-key, --not-after, --keep-newline). */
  rotateOptions?: readonly string[];
}

/**
 * A timer that checks daily (hourly for spans under two days) and a oneshot service that runs
 * `keyhold rotate --from-command CMD --if-older-than SPAN -- NAME`: a new version only once the
 * current one has been current for SPAN. CMD travels as one ExecStart= argument, escaped so that
 * systemd hands it over byte for byte; the value exists only in keyhold's memory, read from CMD's
 * stdout, as with a rotation by hand. The service has the sandbox of the vault's rotation, with the
 * network (a provider is usually reached over it) and root's home readable (where its CLI keeps
 * its configuration).
 */
export function renderCredentialRotationTimer(options: CredentialRotationTimerOptions): UnitFile[] {
  assertUnitPath(options.store, "the store directory");
  assertUnitPath(options.state, "the state directory");
  const seconds = rotationSpan("--every", options.every);
  const unit = credentialRotationUnit(options.name);
  const restart = options.restart;
  const args = [
    "rotate",
    "--store",
    options.store,
    "--state",
    options.state,
    "--from-command",
    options.command,
    "--if-older-than",
    options.every,
    ...(options.rotateOptions ?? []),
    ...(restart === undefined
      ? []
      : [
          "--restart",
          ...(restart.settleS === undefined ? [] : ["--settle", String(restart.settleS)]),
          ...(restart.timeoutS === undefined ? [] : ["--timeout", String(restart.timeoutS)]),
          ...(restart.rollback ? [] : ["--no-rollback"]),
        ]),
    // After "--": a NAME that starts with '-' is not read as an option.
    "--",
    options.name,
  ];
  const exec = `${renderExecLine(options.exec)} ${args.map(quoteExecArgument).join(" ")}`;
  // Description= expands specifiers; the name is never last on the line, so a final '\' cannot
  // join the next line to it.
  const shown = options.name.replaceAll("%", "%%");
  const program = splitCommandLine(options.command)[0] as string;
  // PrivateTmp= hides /tmp and /var/tmp: a keyhold or CMD there could never run (203/EXEC at
  // every check, which verify does not see).
  const hint = "move it to a directory the sandbox shows (e.g. /opt or /usr/local)";
  for (const path of splitCommandLine(options.exec).filter((w) => w.startsWith("/")))
    assertVisibleInSandbox(path, "a word of --exec", hint, PRIVATE_TMP);
  assertVisibleInSandbox(program, "the program of --from-command", hint, PRIVATE_TMP);
  const service = unitText(
    [
      section("Unit", [
        `Description=keyhold: rotate credential ${shown} from its provider's command`,
        "# The provider is usually reached over the network",
        "Wants=network-online.target",
        "After=network-online.target",
      ]),
      section("Service", [
        "Type=oneshot",
        `ExecStart=${exec}`,
        ...vaultRootSandbox({
          writable: [options.store, options.state],
          // What it runs: ProtectHome= would hide it under a home directory.
          readOnly: [...splitCommandLine(options.exec), program].filter(isUnitPath),
          network: true,
          why: {
            root: "it writes the store and the audit log, and restarts units",
            tpm: "to seal the new value (--with-key auto or tpm2)",
            network: "--from-command asks a provider, usually over the network",
          },
        }),
      ]),
    ],
    RENDERED_BY,
  );
  const daily = seconds >= DAILY_FROM_S;
  const timer = unitText(
    [
      section("Unit", [`Description=keyhold: rotate credential ${shown} every ${options.every}`]),
      section("Timer", [
        "# A check on the calendar, not OnUnitActiveSec=/OnBootSec=: those forget the last run at",
        "# every boot, so a host rebooted more often than the span would rotate at every boot or",
        "# never. The service rotates only once the current version is older than the span, which",
        `# the store remembers; a rotation is at most ${daily ? "a day" : "an hour"} late.`,
        `OnCalendar=${daily ? "daily" : "hourly"}`,
        "# Hosts sharing a provider do not all ask it at the same moment",
        `RandomizedDelaySec=${daily ? "1h" : "5min"}`,
        "# A check missed while the host was off runs at its next boot",
        "Persistent=true",
      ]),
      section("Install", ["WantedBy=timers.target"]),
    ],
    RENDERED_BY,
  );
  return [
    { path: `${unit}.service`, content: service },
    { path: `${unit}.timer`, content: timer },
  ];
}
