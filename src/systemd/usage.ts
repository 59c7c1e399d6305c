import { closeSync, constants, fstatSync, lstatSync, openSync, opendirSync, readSync } from "node:fs";
import { join } from "node:path";
import { runTool, systemTool } from "./process.js";

/*
 * Which units load which credential files: read from the unit files and drop-ins on disk (to find
 * the candidates, and where systemd cannot be asked) and from systemd itself (what a loaded unit
 * really loads, its state and when it started). `systemctl show` prints LoadCredentialEncrypted= as
 * "[unprintable]" (systemd 252), so the credential lists come from the unit's D-Bus properties
 * through busctl's JSON output.
 *
 * The unit directories are root's, but a file there may still be anything a package or a mistake
 * put there: every read is bounded (entries per directory, bytes per file), opened without
 * blocking (a FIFO), and only regular files are read (a link to /dev/zero or /dev/null is skipped).
 * Links are followed as systemd follows them: enabled and aliased units are links.
 */

/** Where systemd looks for system units, highest precedence first (systemd.unit(5)). */
export const UNIT_DIRS: readonly string[] = [
  "/etc/systemd/system",
  "/run/systemd/transient",
  "/run/systemd/system",
  "/usr/local/lib/systemd/system",
  "/usr/lib/systemd/system",
];

/** Where systemd searches a credential named without an absolute path (systemd.exec(5)), in order. */
export const CREDSTORE_ENCRYPTED_DIRS: readonly string[] = [
  "/etc/credstore.encrypted",
  "/run/credstore.encrypted",
  "/usr/local/lib/credstore.encrypted",
  "/usr/lib/credstore.encrypted",
];

/** systemd itself refuses unit file lines over 1 MiB; a unit file larger than that is not read. */
export const UNIT_FILE_MAX = 1024 * 1024;
/** Entries read from one directory (a unit directory, a drop-in directory). */
export const DIRECTORY_ENTRIES_MAX = 20_000;
/** Credential lines taken from one file. */
const LOADS_PER_FILE_MAX = 1024;

export type CredentialDirective = "LoadCredentialEncrypted" | "LoadCredential";

/** One LoadCredential[Encrypted]= entry: `ID` alone has the path ID (searched in the credstore directories). */
export interface CredentialLoad {
  directive: CredentialDirective;
  id: string;
  path: string;
}

export interface ParsedUnitFile {
  loads: CredentialLoad[];
  /** An empty assignment (`LoadCredentialEncrypted=`) clears what earlier files set. */
  resets: CredentialDirective[];
  /** Lines keyhold could not read exactly (quotes, escapes, specifiers other than %%): named, not guessed. */
  unreadable: string[];
}

/** The sections whose directives include the exec context (LoadCredential*= is one of them). */
const EXEC_SECTIONS = new Set(["Service", "Socket", "Mount", "Swap"]);

/**
 * The LoadCredential[Encrypted]= entries of one unit file or drop-in, as systemd's parser reads
 * them: sections, comments (# ;), lines continued with a final '\', blanks around key and value,
 * "%%" for '%'. A value using anything else systemd would expand or unquote is not guessed at: it
 * is reported in `unreadable` (systemd itself is asked when it runs).
 */
export function parseUnitCredentials(text: string): ParsedUnitFile {
  const out: ParsedUnitFile = { loads: [], resets: [], unreadable: [] };
  let section = "";
  const physical = text.split("\n");
  for (let i = 0; i < physical.length; i++) {
    let line = (physical[i] as string).replace(/\r$/, "");
    // A continued line: systemd joins it with the next, the backslash becoming a blank.
    while (line.endsWith("\\") && i + 1 < physical.length) {
      line = `${line.slice(0, -1)} ${(physical[++i] as string).replace(/\r$/, "")}`;
    }
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) continue;
    if (trimmed.startsWith("[")) {
      section = trimmed.endsWith("]") ? trimmed.slice(1, -1) : "";
      continue;
    }
    if (!EXEC_SECTIONS.has(section)) continue;
    const eq = trimmed.indexOf("=");
    if (eq < 0) continue;
    const key = trimmed.slice(0, eq).trim();
    if (key !== "LoadCredentialEncrypted" && key !== "LoadCredential") continue;
    const value = trimmed.slice(eq + 1).trim();
    if (value === "") {
      out.resets.push(key);
      continue;
    }
    if (out.loads.length >= LOADS_PER_FILE_MAX) continue;
    const load = readLoadValue(key, value);
    if (load === undefined) out.unreadable.push(`${key}=${value.slice(0, 120)}`);
    else out.loads.push(load);
  }
  return out;
}

function readLoadValue(directive: CredentialDirective, value: string): CredentialLoad | undefined {
  // Quotes, escapes and blanks: systemd's reading of them differs between versions; not guessed.
  if (/["'\\\s\x00-\x1f\x7f]/.test(value)) return undefined;
  // Specifiers other than %% (%N, %i, …) depend on the unit instance: not guessed either.
  if (/%[^%]/.test(value.replaceAll("%%", ""))) return undefined;
  const plain = value.replaceAll("%%", "%");
  const colon = plain.indexOf(":");
  const id = colon < 0 ? plain : plain.slice(0, colon);
  const path = colon < 0 ? id : plain.slice(colon + 1);
  if (id === "" || path === "") return undefined;
  return { directive, id, path };
}

/** Reads a root-owned file systemd would read, bounded; undefined for anything but a regular file within `max`. */
export function readBoundedFile(path: string, max = UNIT_FILE_MAX): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > max) return undefined;
    const buf = Buffer.alloc(Math.min(st.size, max) + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > max) return undefined; // grew while read
    }
    return buf.subarray(0, n).toString("utf8");
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Up to DIRECTORY_ENTRIES_MAX names of a directory, sorted; [] when it cannot be read. */
export function boundedEntries(dir: string): { names: string[]; truncated: boolean } {
  const names: string[] = [];
  let truncated = false;
  let handle: ReturnType<typeof opendirSync>;
  try {
    handle = opendirSync(dir);
  } catch {
    return { names, truncated };
  }
  try {
    for (let entry = handle.readSync(); entry !== null; entry = handle.readSync()) {
      if (names.length >= DIRECTORY_ENTRIES_MAX) {
        truncated = true;
        break;
      }
      names.push(entry.name);
    }
  } catch {
    // a directory that vanished or cannot be read: what was read stands
  } finally {
    handle.closeSync();
  }
  return { names: names.sort(), truncated };
}

const UNIT_SUFFIX = /^[^/]+\.(service|socket|mount|swap)$/;

/** What the unit files on disk say one unit loads. */
export interface UnitFileUsage {
  unit: string;
  /** The fragment in effect (first directory wins) and the drop-ins, in the order systemd applies them. */
  files: string[];
  loads: CredentialLoad[];
  unreadable: string[];
  /** A template (name@.service): its instances load the same, under their own names. */
  template: boolean;
}

export interface UnitFileScan {
  units: UnitFileUsage[];
  /** What was not read: a directory over the entry limit, a file too large or not a regular file. */
  skipped: string[];
}

/**
 * Every unit under `dirs` whose fragment or drop-ins mention a credential, with what the files
 * say it loads. Precedence as systemd applies it: a fragment in an earlier directory hides one of
 * the same name later; drop-ins of the same file name likewise, the rest applied in file-name order;
 * an empty assignment clears what came before.
 */
export function scanUnitFiles(dirs: readonly string[] = UNIT_DIRS): UnitFileScan {
  const skipped: string[] = [];
  const fragments = new Map<string, string>();
  const dropIns = new Map<string, Map<string, string>>();
  for (const dir of dirs) {
    const { names, truncated } = boundedEntries(dir);
    if (truncated) skipped.push(`${dir}: more than ${DIRECTORY_ENTRIES_MAX} entries, the rest not read`);
    for (const name of names) {
      if (UNIT_SUFFIX.test(name)) {
        if (!fragments.has(name)) fragments.set(name, join(dir, name));
      } else if (name.endsWith(".d") && UNIT_SUFFIX.test(name.slice(0, -2))) {
        const unit = name.slice(0, -2);
        const confs = dropIns.get(unit) ?? new Map<string, string>();
        dropIns.set(unit, confs);
        const inner = boundedEntries(join(dir, name));
        if (inner.truncated) skipped.push(`${join(dir, name)}: more than ${DIRECTORY_ENTRIES_MAX} entries`);
        for (const conf of inner.names)
          if (conf.endsWith(".conf") && !confs.has(conf)) confs.set(conf, join(dir, name, conf));
      }
    }
  }
  const units: UnitFileUsage[] = [];
  for (const unit of new Set([...fragments.keys(), ...dropIns.keys()])) {
    const files = [
      ...(fragments.has(unit) ? [fragments.get(unit) as string] : []),
      ...[...(dropIns.get(unit) ?? new Map<string, string>())]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([, p]) => p),
    ];
    const usage: UnitFileUsage = {
      unit,
      files: [],
      loads: [],
      unreadable: [],
      template: unit.includes("@."),
    };
    let mentions = false;
    for (const file of files) {
      const text = readBoundedFile(file);
      if (text === undefined) {
        // A masked unit is a link to /dev/null: not a file, not an error.
        skipped.push(`${file}: not a regular file of at most ${UNIT_FILE_MAX} bytes`);
        continue;
      }
      usage.files.push(file);
      if (!text.includes("LoadCredential")) continue;
      mentions = true;
      const parsed = parseUnitCredentials(text);
      for (const reset of parsed.resets) usage.loads = usage.loads.filter((l) => l.directive !== reset);
      usage.loads.push(...parsed.loads);
      usage.unreadable.push(...parsed.unreadable.map((u) => `${file}: ${u}`));
    }
    if (mentions) units.push(usage);
  }
  return { units: units.sort((a, b) => (a.unit < b.unit ? -1 : 1)), skipped };
}

/** The environment systemctl and busctl run with: nothing inherited that changes their output. */
const TOOL_ENV = {
  PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
  LANG: "C.UTF-8",
  SYSTEMD_PAGER: "",
  SYSTEMD_COLORS: "0",
};

/** Whether systemd is the running init (what sd_booted() checks). */
export function systemdRunning(): boolean {
  try {
    return lstatSync("/run/systemd/system").isDirectory();
  } catch {
    return false;
  }
}

/** What systemd says about one unit; times in milliseconds since the epoch (µs precision), null when unset. */
export interface UnitState {
  unit: string;
  id: string;
  loadState: string;
  activeState: string;
  subState: string;
  fragmentPath: string;
  dropInPaths: string[];
  needDaemonReload: boolean;
  invocationId: string;
  mainPid: number;
  /** When activation began (credentials are set up after this). */
  inactiveExit: number | null;
  /** When the main process started. */
  mainStart: number | null;
  activeEnter: number | null;
}

const SHOW_PROPERTIES = [
  "Id",
  "LoadState",
  "ActiveState",
  "SubState",
  "FragmentPath",
  "DropInPaths",
  "NeedDaemonReload",
  "InvocationID",
  "MainPID",
  "InactiveExitTimestamp",
  "ExecMainStartTimestamp",
  "ActiveEnterTimestamp",
];

/** "Wed 2026-12-02 15:35:34.653582 UTC" (systemctl --timestamp=us+utc) in ms since the epoch. */
export function parseUsTimestamp(text: string): number | null {
  const m = /(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? UTC$/.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac = "0"] = m;
  const whole = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  return whole + Number(frac.padEnd(6, "0")) / 1000;
}

/** `systemctl show` for each unit; units systemd does not know come back with loadState not-found. */
export async function showUnits(units: readonly string[]): Promise<Map<string, UnitState>> {
  const out = new Map<string, UnitState>();
  if (units.length === 0) return out;
  const r = await runTool(
    systemTool("systemctl"),
    ["show", "--no-pager", "--timestamp=us+utc", "-p", SHOW_PROPERTIES.join(","), "--", ...units],
    { env: TOOL_ENV, timeoutMs: 30_000 },
  );
  if (r.code !== 0) return out;
  const blocks = r.stdout.toString("utf8").split(/\n\n/);
  units.forEach((unit, i) => {
    const props = new Map<string, string>();
    for (const line of (blocks[i] ?? "").split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) props.set(line.slice(0, eq), line.slice(eq + 1));
    }
    const p = (k: string) => props.get(k) ?? "";
    out.set(unit, {
      unit,
      id: p("Id") || unit,
      loadState: p("LoadState"),
      activeState: p("ActiveState"),
      subState: p("SubState"),
      fragmentPath: p("FragmentPath"),
      dropInPaths: p("DropInPaths")
        .split(" ")
        .filter((s) => s !== ""),
      needDaemonReload: p("NeedDaemonReload") === "yes",
      invocationId: p("InvocationID"),
      mainPid: Number(p("MainPID")) || 0,
      inactiveExit: parseUsTimestamp(p("InactiveExitTimestamp")),
      mainStart: parseUsTimestamp(p("ExecMainStartTimestamp")),
      activeEnter: parseUsTimestamp(p("ActiveEnterTimestamp")),
    });
  });
  return out;
}

/**
 * The instances systemd has loaded of each template (`name@.service`: `name@1.service`, …), at
 * most DIRECTORY_ENTRIES_MAX in all; [] when systemd cannot be asked.
 */
export async function templateInstances(templates: readonly string[]): Promise<string[]> {
  if (templates.length === 0) return [];
  const patterns = templates.map((t) => t.replace("@.", "@*."));
  const r = await runTool(
    systemTool("systemctl"),
    ["list-units", "--all", "--plain", "--no-legend", "--full", "--no-pager", "--", ...patterns],
    { env: TOOL_ENV, timeoutMs: 30_000 },
  );
  if (r.code !== 0) return [];
  const names = r.stdout
    .toString("utf8")
    .split("\n")
    .map((line) => line.trim().split(/\s+/)[0] ?? "")
    .filter((name) => UNIT_SUFFIX.test(name) && name.includes("@") && !name.includes("@."));
  return [...new Set(names)].slice(0, DIRECTORY_ENTRIES_MAX);
}

/** systemd's escaping of a unit name in its D-Bus object path (sd_bus_path_encode). */
export function unitObjectPath(unit: string): string {
  const escaped = [...Buffer.from(unit, "utf8")]
    .map((b, i) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z]/.test(c) || (i > 0 && /[0-9]/.test(c)) ? c : `_${b.toString(16).padStart(2, "0")}`;
    })
    .join("");
  return `/org/freedesktop/systemd1/unit/${escaped}`;
}

const INTERFACES: Record<string, string> = {
  service: "org.freedesktop.systemd1.Service",
  socket: "org.freedesktop.systemd1.Socket",
  mount: "org.freedesktop.systemd1.Mount",
  swap: "org.freedesktop.systemd1.Swap",
};

/** What a loaded unit loads, as systemd holds it (after daemon-reload); undefined when it cannot say. */
export async function loadedCredentials(unit: string): Promise<CredentialLoad[] | undefined> {
  const iface = INTERFACES[unit.slice(unit.lastIndexOf(".") + 1)];
  if (iface === undefined) return undefined;
  const loads: CredentialLoad[] = [];
  for (const directive of ["LoadCredentialEncrypted", "LoadCredential"] as const) {
    const r = await runTool(
      systemTool("busctl"),
      ["--json=short", "get-property", "org.freedesktop.systemd1", unitObjectPath(unit), iface, directive],
      { env: TOOL_ENV, timeoutMs: 10_000 },
    );
    if (r.code !== 0) return undefined;
    try {
      const parsed = JSON.parse(r.stdout.toString("utf8")) as { type: string; data: unknown };
      if (parsed.type !== "a(ss)" || !Array.isArray(parsed.data)) return undefined;
      for (const pair of parsed.data) {
        if (!Array.isArray(pair) || typeof pair[0] !== "string" || typeof pair[1] !== "string")
          return undefined;
        loads.push({ directive, id: pair[0], path: pair[1] });
      }
    } catch {
      return undefined;
    }
  }
  return loads;
}

/** `systemctl restart UNIT`, waiting for the start job (ExecStartPost= included); resolves with what it said. */
export async function restartUnit(
  unit: string,
  timeoutMs: number,
): Promise<{ ok: boolean; message: string }> {
  const r = await runTool(systemTool("systemctl"), ["restart", "--no-ask-password", "--", unit], {
    env: TOOL_ENV,
    timeoutMs,
  });
  const said = r.stderr.trim().split("\n")[0]?.slice(0, 300) ?? "";
  if (r.signal !== null) return { ok: false, message: `no answer within ${Math.round(timeoutMs / 1000)} s` };
  return { ok: r.code === 0, message: said };
}

/** `systemctl reset-failed UNIT`: clears a failed state and the start-limit count before a restart. */
export async function resetFailed(unit: string): Promise<void> {
  await runTool(systemTool("systemctl"), ["reset-failed", "--", unit], { env: TOOL_ENV, timeoutMs: 10_000 });
}
