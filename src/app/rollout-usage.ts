import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type CredentialEntryInfo, readMeta, type StoreLayout, storeChangedAt } from "../credstore/index.js";
import {
  CREDSTORE_ENCRYPTED_DIRS,
  type CredentialLoad,
  loadedCredentials,
  loadedUnits,
  scanUnitFiles,
  showUnits,
  systemdRunning,
  UNIT_DIRS,
  type UnitFileUsage,
  type UnitState,
} from "../systemd/usage.js";
import { VAULT_SOCKET_DIR } from "../units/render.js";
// The two small modules, not the vault barrel: every credstore write reaches this file.
import { checkPlugin } from "../vault/policy.js";
import { parseRef } from "../vault/refs.js";

/*
 * Who uses which credential of the store or vault secret, and whether each running user holds the
 * current version. systemd loads a credential once, when a unit starts (a vault secret from
 * keyhold's answering socket, asked at each start): a unit that started before the current version
 * was written still holds the previous value ("stale").
 */

/** Whether a running unit holds the current version, judged by time (see judge()). */
export type Holds = "current" | "stale" | "unsure";

export interface CredentialUser {
  unit: string;
  /** The name the service sees in $CREDENTIALS_DIRECTORY. */
  id: string;
  directive: CredentialLoad["directive"];
  /** Where that came from: systemd's loaded unit, or the unit files (systemd not asked or not knowing it). */
  source: "systemd" | "unit-files";
  activeState: string;
  subState: string;
  running: boolean;
  /** When its main process started (ISO), null when it has not. */
  started: string | null;
  /** For a running unit: current, stale or unsure; null otherwise. */
  holds: Holds | null;
  /** How sure that is, in words. */
  basis: string;
  /** The unit file changed since systemd loaded it (daemon-reload pending). */
  needsReload: boolean;
  /** The top-level drop-in (service.d/) the unit gets it through, when that is the only place; else null. */
  typeWide: string | null;
}

/**
 * A top-level drop-in (service.d/) that gives a credential to every unit of its type. Its running
 * units are listed among the users like any other (they hold a version; a rotation restarts them);
 * the others, every unit of the type on disk or loaded that nothing more specific overrides it for,
 * are only counted: they load the current version when they start.
 */
export interface TypeWideUse {
  dropIn: string;
  unitType: string;
  running: number;
  notRunning: number;
}

export interface UsageReport {
  users: Map<string, CredentialUser[]>;
  /** By the same keys as `users`: the top-level drop-ins that give it to every unit of a type. */
  typeWide: Map<string, TypeWideUse[]>;
  /** What limits the answer: systemd not running, files skipped, lines not read. */
  notes: string[];
}

/**
 * File times come from the kernel's coarse clock (up to one tick behind the moment of the
 * change), systemd's timestamps from the precise one: within this margin the order is not known.
 */
const CLOCK_MARGIN_MS = 20;

/**
 * When the credential's current bytes took its name: the store file's ctime, which the rename
 * that installed it sets (writeFileAtomic renames last; a rollback renames too). Not the version's
 * "created" time: a rollback makes an old version current again at a new moment.
 */
export function currentSince(l: StoreLayout, name: string): number | undefined {
  return storeChangedAt(l, name);
}

const RUNNING = new Set(["active", "reloading", "deactivating"]);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/**
 * What the credential's metadata says: the current version, when each version was written (ms)
 * and, where it keeps them, when each version became current (ms, oldest first).
 */
export interface VersionTimes {
  current: number;
  written: { version: number; at: number }[];
  history?: { version: number; since: number }[];
}

export function versionTimes(l: StoreLayout, name: string): VersionTimes | undefined {
  let meta: ReturnType<typeof readMeta>;
  try {
    meta = readMeta(l, name);
  } catch {
    return undefined; // unreadable metadata: doctor reports it
  }
  if (meta === undefined) return undefined;
  return {
    current: meta.current,
    written: meta.versions.map((v) => ({ version: v.version, at: Date.parse(v.created) })),
    ...(meta.currentHistory === undefined
      ? {}
      : { history: meta.currentHistory.map((c) => ({ version: c.version, since: Date.parse(c.since) })) }),
  };
}

/**
 * Whether a running unit holds the current version. Credentials are loaded after activation
 * begins (InactiveExitTimestamp) and before the main process starts (ExecMainStartTimestamp);
 * `since` is when the store file last changed.
 *
 * - activation began after that change: it loaded the current bytes (certain);
 * - its main process started before the current version was even written: it cannot hold it
 *   (certain);
 * - it started before the last change but after the current version was written: the last change
 *   was a rollback, and the unit holds whatever was current when it started. If no later version
 *   had been written by then, that was this same version (current, "probably": an earlier rollback
 *   could have intervened); otherwise it holds a later, rolled-back version (stale, "probably");
 * - activation spanning the change: unsure.
 *
 * Where the metadata keeps when each version became current (`versions.history`), the version a
 * unit loaded is known instead of guessed: the one whose change came last before its activation
 * began (certain), unsure when a change fell within its activation (within CLOCK_MARGIN_MS). A unit
 * that started before the oldest kept change, or history that does not end at the store file's
 * last change (written by something else), falls back to the rules above.
 *
 * All of these are wall-clock times: a clock stepped between the write and the start misleads them.
 */
export function judge(
  state: UnitState,
  since: number | undefined,
  versions?: VersionTimes,
): { holds: Holds; basis: string } {
  const main = state.mainStart ?? state.activeEnter;
  if (since === undefined || main === null)
    return { holds: "unsure", basis: "no start time or write time to compare" };
  const begin = state.inactiveExit ?? main;
  const known = byHistory(begin, main, since, versions);
  if (known !== undefined) return known;
  if (begin > since + CLOCK_MARGIN_MS)
    return { holds: "current", basis: "certain: it started after the current version was written" };
  if (main >= since - CLOCK_MARGIN_MS)
    return {
      holds: "unsure",
      basis: "it was starting while the current version was written: restart it to be sure",
    };
  const current = versions?.written.find((v) => v.version === versions.current);
  if (versions === undefined || current === undefined || Number.isNaN(current.at) || current.at >= main)
    return {
      holds: "stale",
      basis: "certain: its main process started before the current version was written",
    };
  const later = versions.written.some((v) => v.version > versions.current && v.at <= main);
  return later
    ? {
        holds: "stale",
        basis: `probably: it started after a version later than ${versions.current} was written, and a rollback has made ${versions.current} current since`,
      }
    : {
        holds: "current",
        basis: `probably: it started while version ${versions.current} was current, which a rollback made current again`,
      };
}

/** judge() from the history of current versions; undefined when it cannot say (see judge()). */
function byHistory(
  begin: number,
  main: number,
  since: number,
  versions: VersionTimes | undefined,
): { holds: Holds; basis: string } | undefined {
  const history = versions?.history;
  const last = history?.at(-1);
  if (versions === undefined || history === undefined || last === undefined) return undefined;
  if (last.version !== versions.current || Number.isNaN(last.since)) return undefined;
  if (Math.abs(last.since - since) > CLOCK_MARGIN_MS) return undefined; // changed by another writer
  const during = history.find((c) => c.since >= begin - CLOCK_MARGIN_MS && c.since <= main + CLOCK_MARGIN_MS);
  if (during !== undefined)
    return {
      holds: "unsure",
      basis: `it was starting while version ${during.version} became current: restart it to be sure`,
    };
  const before = history.filter((c) => c.since < begin).at(-1);
  if (before === undefined) return undefined; // started before the oldest change kept
  return before.version === versions.current
    ? { holds: "current", basis: `certain: version ${before.version} was current when it started` }
    : {
        holds: "stale",
        basis: `certain: version ${before.version} was current when it started; version ${versions.current} is current now`,
      };
}

/**
 * Whether a running unit holds a vault secret's current version, from the vault's version times
 * alone (a vault secret is asked for at each start; the vault does not record when a rollback made
 * a version current again):
 *
 * - its main process started before the current version was written: it cannot hold it (certain);
 * - activation spanning the write: unsure;
 * - it began after the current version was written, and no later version had been written by then:
 *   it holds it ("probably": a rollback away from it and back since would not show here);
 * - it began after a later version was written, which a rollback has since undone: it holds the
 *   later version or the current one, depending on when the rollback was (unsure).
 */
export function judgeByVersions(
  state: UnitState,
  versions: VersionTimes | undefined,
): { holds: Holds; basis: string } {
  const main = state.mainStart ?? state.activeEnter;
  const current = versions?.written.find((v) => v.version === versions.current);
  if (versions === undefined || current === undefined || Number.isNaN(current.at) || main === null)
    return { holds: "unsure", basis: "no start time or write time to compare" };
  const begin = state.inactiveExit ?? main;
  if (main < current.at - CLOCK_MARGIN_MS)
    return {
      holds: "stale",
      basis: `certain: its main process started before version ${versions.current} was written`,
    };
  if (begin <= current.at + CLOCK_MARGIN_MS)
    return {
      holds: "unsure",
      basis: `it was starting while version ${versions.current} was written: restart it to be sure`,
    };
  const later = versions.written.find((v) => v.version > versions.current && v.at <= main);
  return later
    ? {
        holds: "unsure",
        basis: `version ${later.version} was written before it started and a rollback has made ${versions.current} current since, before or after its start: restart it to be sure`,
      }
    : {
        holds: "current",
        basis: `probably: it started after version ${versions.current} was written (a rollback away and back since would not show)`,
      };
}

/** The store credential a LoadCredential[Encrypted]= entry reads, if it is one of `l`'s. */
export function storeNameOf(l: StoreLayout, load: CredentialLoad): string | undefined {
  if (load.path.startsWith("/")) return dirname(load.path) === l.store ? basename(load.path) : undefined;
  if (load.path.includes("/")) return undefined;
  // A bare name: systemd takes the first credstore directory that has it.
  for (const dir of CREDSTORE_ENCRYPTED_DIRS)
    if (existsSync(join(dir, load.path))) return dir === l.store ? load.path : undefined;
  return undefined;
}

/** The vault secret (NS/NAME) an entry asks keyhold's answering socket for, if it is such an entry. */
export function vaultRefOf(load: CredentialLoad): { service: string; ref: string } | undefined {
  // VAULT_SOCKET_DIR/SERVICE/NS/NAME (src/units/render.ts): the path names the service whose starts
  // are answered and the secret; the answering unit rendered with it serves that same secret.
  if (!load.path.startsWith(`${VAULT_SOCKET_DIR}/`)) return undefined;
  const parts = load.path.slice(VAULT_SOCKET_DIR.length + 1).split("/");
  if (parts.length !== 3) return undefined;
  const [service, ns, name] = parts as [string, string, string];
  try {
    checkPlugin(service);
    const ref = parseRef({ ns, name });
    return { service, ref: `${ref.ns}/${ref.name}` };
  } catch {
    return undefined;
  }
}

/** What a unit's credential entry delivers, as a key of UsageReport.users; undefined: not ours. */
type Classify = (load: CredentialLoad, unit: string, notes: string[]) => string | undefined;
/** Whether a running unit holds the current version of what `key` names. */
type JudgeOf = (
  state: UnitState,
  key: string,
) => { holds: Holds; basis: string } | Promise<{ holds: Holds; basis: string }>;

type FindOptions = { unitDirs?: readonly string[]; askSystemd?: boolean };

/**
 * Every unit with a credential entry `classify` recognises. Candidates come from the unit files
 * (UNIT_DIRS); where systemd runs, each is asked what it loads as loaded now and how it runs.
 */
async function findUsers(classify: Classify, judgeOf: JudgeOf, options: FindOptions): Promise<UsageReport> {
  const scan = scanUnitFiles(options.unitDirs ?? UNIT_DIRS);
  const notes: string[] = [];
  const askSystemd = options.askSystemd ?? systemdRunning();
  if (!askSystemd)
    notes.push("systemd is not running here: units are read from their files only, not their state");
  const files = scan.units.filter((u) => !u.template);
  if (askSystemd) {
    // The units only systemd can name: a template's instances, the units a prefix (foo-.service.d/)
    // or top-level (service.d/) drop-in applies to that have no file of their own here. Each is
    // read as systemd reads it (its instance's, template's, prefixes' and type's drop-ins).
    const known = new Set(files.map((u) => u.unit));
    for (const unit of await loadedUnits(scan.patterns)) {
      const usage = known.has(unit) ? undefined : scan.usageOf(unit);
      if (usage !== undefined) files.push(usage);
      known.add(unit);
    }
  } else
    for (const t of scan.units.filter((u) => u.template))
      notes.push(`${t.unit} is a template: its running instances are not checked`);
  const candidates = files.map((u) => u.unit);
  const states = askSystemd ? await showUnits(candidates) : new Map<string, UnitState>();
  const users = new Map<string, CredentialUser[]>();
  const typeWide = new Map<string, TypeWideUse[]>();
  const countTypeWide = (key: string, dropIn: string, running: boolean) => {
    const list = typeWide.get(key) ?? [];
    typeWide.set(key, list);
    let use = list.find((w) => w.dropIn === dropIn);
    if (use === undefined) {
      use = { dropIn, unitType: basename(dirname(dropIn)).slice(0, -2), running: 0, notRunning: 0 };
      list.push(use);
    }
    if (running) use.running++;
    else use.notRunning++;
  };
  const seen = new Set<string>();
  for (const file of files) {
    const state = states.get(file.unit);
    const unit = state?.id || file.unit; // an alias resolves to its unit: counted once
    if (seen.has(unit)) continue;
    seen.add(unit);
    const running = state !== undefined && RUNNING.has(state.activeState);
    // A unit that is not running and gets credentials only through a top-level drop-in is counted,
    // not listed, and systemd is not asked about it: on a host with service.d/ loading one, that
    // is every service.
    if (!running && file.loads.length > 0 && file.loads.every((l) => l.typeWide)) {
      for (const u of file.unreadable) notes.push(`${u}: not read (quotes, escapes or specifiers)`);
      for (const load of file.loads) {
        const key = classify(load, unit, []);
        if (key !== undefined) countTypeWide(key, load.file, false);
      }
      continue;
    }
    const fromSystemd = state && state.loadState === "loaded" ? await loadedCredentials(unit) : undefined;
    const loads = fromSystemd ?? file.loads;
    if (fromSystemd === undefined)
      for (const u of file.unreadable) notes.push(`${u}: not read (quotes, escapes or specifiers)`);
    for (const load of loads) {
      const key = classify(load, unit, notes);
      if (key === undefined) continue;
      const wide = typeWideSource(file, load);
      if (wide !== undefined) {
        countTypeWide(key, wide, running);
        if (!running) continue;
      }
      const judged = running && state ? await judgeOf(state, key) : undefined;
      const user: CredentialUser = {
        unit,
        id: load.id,
        directive: load.directive,
        source: fromSystemd ? "systemd" : "unit-files",
        activeState: state?.activeState ?? "unknown",
        subState: state?.subState ?? "unknown",
        running,
        started: running && state ? iso(state.mainStart ?? state.activeEnter) : null,
        holds: judged?.holds ?? null,
        basis: judged?.basis ?? (running ? "" : "not running: it loads the current version when it starts"),
        needsReload: state?.needDaemonReload ?? false,
        typeWide: wide ?? null,
      };
      const list = users.get(key) ?? [];
      if (!list.some((u) => u.unit === user.unit && u.id === user.id)) list.push(user);
      users.set(key, list);
    }
  }
  notes.unshift(...scan.skipped);
  return { users, typeWide, notes: [...new Set(notes)] };
}

/** The top-level drop-in `load` comes from when the files give it only through one; undefined otherwise. */
function typeWideSource(file: UnitFileUsage, load: CredentialLoad): string | undefined {
  const same = file.loads.filter(
    (l) => l.directive === load.directive && l.id === load.id && l.path === load.path,
  );
  return same.length > 0 && same.every((l) => l.typeWide) ? same[0]?.file : undefined;
}

/** Every unit that loads a credential of the store, by credential name. */
export function findCredentialUsers(l: StoreLayout, options: FindOptions = {}): Promise<UsageReport> {
  return findUsers(
    (load) => storeNameOf(l, load),
    (state, name) => judge(state, currentSince(l, name), versionTimes(l, name)),
    options,
  );
}

/**
 * Every unit that receives a vault secret through `keyhold unit --vault`'s answering socket, by
 * NS/NAME. Only SERVICE.service's own start is answered (src/app/vault-answer.ts): another unit
 * naming SERVICE's socket receives nothing, and is noted rather than listed. `versionsOf` gives the
 * vault's version metadata of a secret (undefined: not known), asked only for secrets a running
 * unit receives.
 */
export function findVaultUsers(
  versionsOf: (ref: string) => VersionTimes | undefined | Promise<VersionTimes | undefined>,
  options: FindOptions = {},
): Promise<UsageReport> {
  return findUsers(
    (load, unit, notes) => {
      const asked = vaultRefOf(load);
      if (asked === undefined) return undefined;
      if (unit !== `${asked.service}.service`) {
        notes.push(
          `${unit} asks ${asked.service}.service's socket for ${asked.ref}: only ${asked.service}.service is answered`,
        );
        return undefined;
      }
      return asked.ref;
    },
    async (state, ref) => judgeByVersions(state, await versionsOf(ref)),
    options,
  );
}

/** `ls` with units: an otherwise fine credential a running unit holds an older version of is "stale". */
export async function markStale(
  l: StoreLayout,
  entries: CredentialEntryInfo[],
  options: { unitDirs?: readonly string[]; askSystemd?: boolean } = {},
): Promise<{ entries: (CredentialEntryInfo & { staleIn?: string[] })[]; report: UsageReport }> {
  const report = await findCredentialUsers(l, options);
  const out = entries.map((e) => {
    const stale = (report.users.get(e.name) ?? []).filter((u) => u.holds === "stale").map((u) => u.unit);
    if (stale.length === 0) return e;
    return { ...e, ...(e.status === "ok" ? { status: "stale" as const } : {}), staleIn: stale };
  });
  return { entries: out, report };
}

/** The running units that load credential `name` (after a plain rotate, they hold the previous value). */
export async function runningUsers(l: StoreLayout, name: string): Promise<string[]> {
  return ((await findCredentialUsers(l)).users.get(name) ?? []).filter((u) => u.running).map((u) => u.unit);
}
