import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { SecretError } from "../secret/index.js";
import type { CredentialKeyType } from "../systemd/index.js";
import { metaFile, type StoreLayout, storeFile, versionFile, versionsDir } from "./layout.js";

/** One version of a credential: facts only, never the value. */
export interface VersionMeta {
  version: number;
  created: string;
  /** Plaintext length in bytes. */
  size: number;
  notAfter?: string;
  keyType: CredentialKeyType;
  /** What made it: set, import, rotate. */
  origin: string;
}

/** A change of the current version: `version` became current at `since` (ISO, the store file's change time). */
export interface CurrentChange {
  version: number;
  since: string;
}

export interface CredentialMeta {
  name: string;
  current: number;
  created: string;
  updated: string;
  versions: VersionMeta[];
  /**
   * Each change of the current version (set, rotate, rollback), oldest first: which version a unit
   * started at a given moment loaded. Absent in metadata written before keyhold kept it. Bounded
   * (CURRENT_HISTORY_MAX, the oldest dropped): the whole file is rewritten at every change and read
   * by every ls and status, and only units started before the oldest kept change need more.
   */
  currentHistory?: CurrentChange[];
}

export const CURRENT_HISTORY_MAX = 64;

/**
 * When the store file of `name` last changed (ms, from its ctime): the rename that installs a
 * version as current sets it (writeFileAtomic renames last; a rollback renames too).
 */
export function storeChangedAt(l: StoreLayout, name: string): number | undefined {
  try {
    const st = lstatSync(storeFile(l, name), { bigint: true });
    return Number(st.ctimeNs / 1000n) / 1000;
  } catch {
    return undefined;
  }
}

/** `meta` with `version` current since `at` (ms), appended to its bounded history. */
export function withCurrent(
  meta: CredentialMeta,
  version: number,
  at: number,
  updated: string,
): CredentialMeta {
  const change = { version, since: new Date(at).toISOString() };
  return {
    ...meta,
    current: version,
    updated,
    currentHistory: [...(meta.currentHistory ?? []), change].slice(-CURRENT_HISTORY_MAX),
  };
}

function validHistory(h: unknown): boolean {
  return (
    h === undefined ||
    (Array.isArray(h) &&
      h.every(
        (e) =>
          typeof e === "object" &&
          e !== null &&
          Number.isSafeInteger(e.version) &&
          typeof e.since === "string" &&
          !Number.isNaN(Date.parse(e.since)),
      ))
  );
}

export function readMeta(l: StoreLayout, name: string): CredentialMeta | undefined {
  let text: string;
  try {
    text = readFileSync(metaFile(l, name), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const meta = JSON.parse(text) as CredentialMeta;
    if (meta.name !== name || !Array.isArray(meta.versions) || !validHistory(meta.currentHistory))
      throw new Error("shape");
    return reconcile(l, meta);
  } catch {
    throw new SecretError("INVALID_FORMAT", `metadata for ${name} is unreadable: ${metaFile(l, name)}`, {
      hint: "run keyhold doctor",
    });
  }
}

function readOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Writes happen in the order: version file, store file, metadata. A crash between the store
 * file and the metadata leaves metadata one step behind; the bytes in the store say which
 * version is current, so the metadata is corrected on read, and its history (if it keeps one)
 * gains the change the crash left out, at the store file's change time (the next write keeps it).
 */
function reconcile(l: StoreLayout, meta: CredentialMeta): CredentialMeta {
  const current = readOrUndefined(storeFile(l, meta.name));
  if (current === undefined) return meta;
  const recorded = readOrUndefined(versionFile(l, meta.name, meta.current));
  if (recorded?.equals(current)) return meta;
  for (const v of [...meta.versions].reverse()) {
    if (!readOrUndefined(versionFile(l, meta.name, v.version))?.equals(current)) continue;
    const at = storeChangedAt(l, meta.name);
    return meta.currentHistory === undefined || at === undefined
      ? { ...meta, current: v.version }
      : withCurrent(meta, v.version, at, meta.updated);
  }
  return meta;
}

/** Version numbers present on disk (including ones a crash left without metadata). */
export function versionsOnDisk(l: StoreLayout, name: string): number[] {
  try {
    return readdirSync(versionsDir(l, name))
      .filter((f) => /^[1-9][0-9]*$/.test(f))
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}
