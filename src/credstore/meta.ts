import { readdirSync, readFileSync } from "node:fs";
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

export interface CredentialMeta {
  name: string;
  current: number;
  created: string;
  updated: string;
  versions: VersionMeta[];
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
    if (meta.name !== name || !Array.isArray(meta.versions)) throw new Error("shape");
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
 * version is current, so the metadata is corrected on read.
 */
function reconcile(l: StoreLayout, meta: CredentialMeta): CredentialMeta {
  const current = readOrUndefined(storeFile(l, meta.name));
  if (current === undefined) return meta;
  const recorded = readOrUndefined(versionFile(l, meta.name, meta.current));
  if (recorded?.equals(current)) return meta;
  for (const v of [...meta.versions].reverse()) {
    if (readOrUndefined(versionFile(l, meta.name, v.version))?.equals(current))
      return { ...meta, current: v.version };
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
