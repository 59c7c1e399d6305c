import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  opendirSync,
  readSync,
  statSync,
} from "node:fs";
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
/** A top-level drop-in directory's name (without ".d"): what it holds applies to every unit of that type. */
const UNIT_TYPE = /^(service|socket|mount|swap)$/;
/** What systemd accepts in a unit name's prefix (unit_prefix_is_valid). */
const PREFIX_CHARS = /^[A-Za-z0-9:_.\\-]+$/;
/** systemd's longest unit name (UNIT_NAME_MAX). */
const UNIT_NAME_MAX = 256;

/** PREFIX[@INSTANCE].TYPE: instance "" for a template, undefined for a plain unit. */
function unitNameParts(unit: string): { prefix: string; instance: string | undefined; type: string } {
  const dot = unit.lastIndexOf(".");
  const stem = unit.slice(0, dot);
  const at = stem.indexOf("@");
  return {
    prefix: at < 0 ? stem : stem.slice(0, at),
    instance: at < 0 ? undefined : stem.slice(at + 1),
    type: unit.slice(dot + 1),
  };
}

/*
 * The drop-in directories systemd reads for a unit (systemd.unit(5), "drop-in"; src/shared/dropin.c).
 *
 * In each unit directory, in precedence order, it looks for NAME.d/, and for an instance
 * (worker@x.service) then for its template's (worker@.service.d/, and the template's own prefix
 * directories). Then for the name cut after its last dash, the dash kept: foo-bar-baz.service reads
 * foo-bar-.service.d/, then foo-.service.d/ (an instance keeps its instance: foo-bar@x.service reads
 * foo-@x.service.d/ and foo-@.service.d/). A dash that ends the prefix is dropped once before
 * cutting; a leading dash ends it. Only after every unit directory has been searched so come the
 * top-level TYPE.d/ directories (service.d/ for every service), each unit directory in turn.
 *
 * The .conf files of all those directories are merged by file name: the first directory in that
 * order that holds a name keeps it, so a same-named file in a more specific directory of the same
 * unit directory wins, a file in an earlier unit directory wins over any in a later one
 * (/etc/…/foo-.service.d/10-x.conf hides /usr/lib/…/foo-bar.service.d/10-x.conf), and any name- or
 * prefix-specific directory hides service.d/. A file linked to /dev/null keeps its name and reads as
 * empty: a mask. The files so kept are applied in file-name order, whatever directory they are in,
 * after the unit file itself; an empty `LoadCredentialEncrypted=` clears what came before it.
 */

/** The names (without ".d") of the drop-in directories `unit` reads in each unit directory, most specific first; TYPE.d/ not included. */
export function dropInNames(unit: string, out: string[] = []): string[] {
  if (!out.includes(unit)) out.push(unit);
  const { prefix, instance, type } = unitNameParts(unit);
  if (instance) dropInNames(`${prefix}@.${type}`, out);
  let cut = prefix;
  let chopped = false;
  for (;;) {
    const dash = cut.lastIndexOf("-");
    if (dash <= 0) return out; // no dash, or only a leading one
    if (dash + 1 < cut.length || chopped) {
      cut = cut.slice(0, dash + 1);
      break;
    }
    cut = cut.slice(0, dash); // a trailing dash: dropped, once
    chopped = true;
  }
  if (!PREFIX_CHARS.test(cut)) return out;
  return dropInNames(instance ? `${cut}@${instance}.${type}` : `${cut}.${type}`, out);
}

/** One LoadCredential*= entry as the unit files give it: which file, and whether a top-level drop-in. */
export interface UnitFileLoad extends CredentialLoad {
  file: string;
  /** From a top-level drop-in (service.d/): every unit of the type gets it. */
  typeWide: boolean;
}

/** What the unit files on disk say one unit loads. */
export interface UnitFileUsage {
  unit: string;
  /** The fragment in effect (first directory wins) and the drop-ins, in the order systemd applies them. */
  files: string[];
  loads: UnitFileLoad[];
  unreadable: string[];
  /** A template (name@.service): its instances load the same, under their own names. */
  template: boolean;
}

export interface UnitFileScan {
  /** Every unit with a unit file or a drop-in directory of its own whose files mention a credential, templates included. */
  units: UnitFileUsage[];
  /** What was not read: a directory over the entry limit, a file too large or not a regular file, a masked unit. */
  skipped: string[];
  /**
   * systemctl patterns for the units a drop-in that mentions a credential applies to beyond those
   * on disk: a template's instances (worker@*.service), a prefix's units (foo-*.service), every
   * unit of a type (*.service) for a top-level drop-in. Only systemd knows which of those exist.
   */
  patterns: string[];
  /** What the files say any unit loads (an instance, a unit only systemd knows); undefined if none of its files mention a credential. */
  usageOf(unit: string): UnitFileUsage | undefined;
}

/** The unit directories as read once. */
interface UnitTree {
  dirs: readonly string[];
  /** The unit file in effect for each name: the first directory's. */
  fragments: Map<string, string>;
  /** Per unit directory, in `dirs` order: each drop-in directory's name (without ".d") and its .conf names. */
  dropIns: Map<string, string[]>[];
  texts: Map<string, string | undefined>;
  parsed: Map<string, ParsedUnitFile>;
  skipped: string[];
  noted: Set<string>;
}

function note(tree: UnitTree, line: string): void {
  if (tree.noted.has(line)) return;
  tree.noted.add(line);
  tree.skipped.push(line);
}

function readTree(dirs: readonly string[]): UnitTree {
  const tree: UnitTree = {
    dirs,
    fragments: new Map(),
    dropIns: [],
    texts: new Map(),
    parsed: new Map(),
    skipped: [],
    noted: new Set(),
  };
  for (const dir of dirs) {
    const byName = new Map<string, string[]>();
    tree.dropIns.push(byName);
    const { names, truncated } = boundedEntries(dir);
    if (truncated) note(tree, `${dir}: more than ${DIRECTORY_ENTRIES_MAX} entries, the rest not read`);
    for (const name of names) {
      if (UNIT_SUFFIX.test(name)) {
        if (!tree.fragments.has(name)) tree.fragments.set(name, join(dir, name));
        continue;
      }
      const owner = name.slice(0, -2);
      if (!name.endsWith(".d") || !(UNIT_SUFFIX.test(owner) || UNIT_TYPE.test(owner))) continue;
      const inner = boundedEntries(join(dir, name));
      if (inner.truncated) note(tree, `${join(dir, name)}: more than ${DIRECTORY_ENTRIES_MAX} entries`);
      byName.set(
        owner,
        inner.names.filter((conf) => conf.endsWith(".conf")),
      );
    }
  }
  return tree;
}

/** Whether `path` is (a link to) the null device. */
function isNullDevice(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isCharacterDevice() && st.rdev === statSync("/dev/null").rdev;
  } catch {
    return false;
  }
}

/**
 * A unit file systemd treats as a mask (unit_load_fragment: null_or_empty): a character device (a
 * link to /dev/null) or an empty file. A masked unit does not start, so it loads nothing.
 */
function isMask(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isCharacterDevice() || (st.isFile() && st.size === 0);
  } catch {
    return false;
  }
}

/** A file's text, read once; "" for a drop-in linked to /dev/null (a mask); undefined when it is not read. */
function textOf(tree: UnitTree, file: string): string | undefined {
  if (tree.texts.has(file)) return tree.texts.get(file);
  let text = readBoundedFile(file);
  if (text === undefined) {
    if (isNullDevice(file)) text = "";
    else note(tree, `${file}: not a regular file of at most ${UNIT_FILE_MAX} bytes`);
  }
  tree.texts.set(file, text);
  return text;
}

function parsedOf(tree: UnitTree, file: string, text: string): ParsedUnitFile {
  let parsed = tree.parsed.get(file);
  if (parsed === undefined) {
    parsed = parseUnitCredentials(text);
    tree.parsed.set(file, parsed);
  }
  return parsed;
}

/** What `unit`'s fragment and drop-ins say it loads, as systemd merges them; undefined when none mentions a credential. */
function resolveUnit(tree: UnitTree, unit: string): UnitFileUsage | undefined {
  if (unit.length > UNIT_NAME_MAX || !UNIT_SUFFIX.test(unit)) return undefined;
  const { prefix, instance, type } = unitNameParts(unit);
  // An instance without a unit file of its own is made from its template's.
  const fragment =
    tree.fragments.get(unit) ?? (instance ? tree.fragments.get(`${prefix}@.${type}`) : undefined);
  if (fragment !== undefined && isMask(fragment)) {
    note(tree, `${fragment}: masked (empty, or a link to /dev/null): it loads nothing`);
    return undefined;
  }
  const names = dropInNames(unit);
  const confs = new Map<string, { path: string; typeWide: boolean }>();
  const take = (i: number, name: string, typeWide: boolean) => {
    for (const conf of tree.dropIns[i]?.get(name) ?? [])
      if (!confs.has(conf))
        confs.set(conf, { path: join(tree.dirs[i] as string, `${name}.d`, conf), typeWide });
  };
  tree.dirs.forEach((_, i) => {
    for (const name of names) take(i, name, false);
  });
  tree.dirs.forEach((_, i) => {
    take(i, type, true);
  });
  const files = [
    ...(fragment === undefined ? [] : [{ path: fragment, typeWide: false }]),
    ...[...confs].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, f]) => f),
  ];
  const usage: UnitFileUsage = { unit, files: [], loads: [], unreadable: [], template: instance === "" };
  let mentions = false;
  for (const file of files) {
    const text = textOf(tree, file.path);
    if (text === undefined) continue;
    usage.files.push(file.path);
    if (!text.includes("LoadCredential")) continue;
    mentions = true;
    const parsed = parsedOf(tree, file.path, text);
    for (const reset of parsed.resets) usage.loads = usage.loads.filter((l) => l.directive !== reset);
    usage.loads.push(...parsed.loads.map((l) => ({ ...l, file: file.path, typeWide: file.typeWide })));
    usage.unreadable.push(...parsed.unreadable.map((u) => `${file.path}: ${u}`));
  }
  return mentions ? usage : undefined;
}

/** A unit name as a literal in a systemctl pattern (fnmatch): its backslashes escaped. */
const literal = (name: string) => name.replaceAll("\\", "\\\\");

/** The systemctl pattern of the units a drop-in directory named `owner` (without ".d") applies to, when that is more than one unit. */
function patternOf(owner: string): string | undefined {
  if (UNIT_TYPE.test(owner)) return `*.${owner}`;
  const { prefix, instance, type } = unitNameParts(owner);
  if (prefix.endsWith("-"))
    return instance === undefined
      ? `${literal(prefix)}*.${type}`
      : `${literal(prefix)}*@${instance === "" ? "*" : literal(instance)}.${type}`;
  return instance === "" ? `${literal(prefix)}@*.${type}` : undefined;
}

/**
 * Every unit under `dirs` whose fragment or drop-ins mention a credential, with what the files
 * say it loads, merged as systemd merges them (see dropInNames): a fragment in an earlier
 * directory hides one of the same name later; drop-ins by file name, the first directory in
 * systemd's order keeping a name; the rest applied in file-name order; an empty assignment clears
 * what came before. A unit named only by a prefix or top-level drop-in directory is not one on
 * disk: `patterns` names those for systemd, `usageOf` reads any unit.
 */
export function scanUnitFiles(dirs: readonly string[] = UNIT_DIRS): UnitFileScan {
  const tree = readTree(dirs);
  // Units on disk: a unit file, or a drop-in directory of their own (not a prefix's, not a type's).
  const names = new Set(tree.fragments.keys());
  for (const byName of tree.dropIns)
    for (const owner of byName.keys())
      if (!UNIT_TYPE.test(owner) && !unitNameParts(owner).prefix.endsWith("-")) names.add(owner);
  const units: UnitFileUsage[] = [];
  for (const unit of names) {
    const usage = resolveUnit(tree, unit);
    if (usage !== undefined) units.push(usage);
  }
  const patterns = new Set<string>();
  for (const u of units) if (u.template) patterns.add(patternOf(u.unit) as string);
  tree.dropIns.forEach((byName, i) => {
    for (const [owner, confs] of byName) {
      const pattern = patternOf(owner);
      if (pattern === undefined || patterns.has(pattern)) continue;
      const dir = join(tree.dirs[i] as string, `${owner}.d`);
      if (confs.some((conf) => textOf(tree, join(dir, conf))?.includes("LoadCredential")))
        patterns.add(pattern);
    }
  });
  return {
    units: units.sort((a, b) => (a.unit < b.unit ? -1 : 1)),
    skipped: tree.skipped,
    patterns: [...patterns].sort(),
    usageOf: (unit) => resolveUnit(tree, unit),
  };
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
 * The units systemd has loaded (any state) whose names match `patterns` (systemctl's globs), at
 * most DIRECTORY_ENTRIES_MAX, templates not included; [] when systemd cannot be asked.
 */
export async function loadedUnits(patterns: readonly string[]): Promise<string[]> {
  if (patterns.length === 0) return [];
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
    .filter((name) => UNIT_SUFFIX.test(name) && !name.includes("@."));
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
