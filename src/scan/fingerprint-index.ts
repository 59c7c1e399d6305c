import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SCAN_KEY_NAME } from "../defaults.js";
import { withLock, writeFileAtomic } from "../durable/index.js";
import { type SealedKeyFile, sealKey, unsealKey } from "../load/index.js";
import { type Secret, SecretError, SecretKey, wipe } from "../secret/index.js";
import type { CredsOptions } from "../systemd/index.js";
import { hexToWords, PrecomputedHmacSha256 } from "./hmac-sha256.js";

export { SCAN_KEY_NAME };
export const SCAN_INDEX_FILE = "scan-index.json";
const SCAN_INDEX_LOCK = "scan-index.lock";
const INDEX_FORMAT = "keyhold-scan-index";
const INDEX_VERSION = 1;
/** Shorter values are recorded but never searched for: they would match ordinary text. */
export const MIN_KNOWN_LENGTH = 8;

export type FingerprintSource = "credstore" | "vault";

/** What the credstore and the vault call when they store or remove a value. */
export interface FingerprintRecorder {
  /** Records a keyed fingerprint of `value` under `name`; never the value or a plain hash. */
  record(name: string, value: Secret, source: FingerprintSource): Promise<void>;
  /** Removes every fingerprint recorded for `name` from `source`. */
  forget(name: string, source: FingerprintSource): Promise<void>;
}

export interface FingerprintEntry {
  name: string;
  source: FingerprintSource;
  length: number;
  mac: string;
  recorded: string;
}

/** Who a matching value belongs to. */
export interface KnownOwner {
  name: string;
  source: FingerprintSource;
}

/**
 * What the scanner needs: the scan key and the fingerprints grouped for lookup. Matching
 * computes HMAC-SHA256 of a candidate under the key and looks the hex digest up.
 */
export interface KnownValueSet {
  readonly lengths: ReadonlySet<number>;
  readonly minLength: number;
  readonly maxLength: number;
  /** The owners of a candidate value, or undefined when it is not a known value. */
  lookup(candidate: Uint8Array): KnownOwner[] | undefined;
  /** The same for `data[start..end)`, without making a view of it (the scanner's hot loop). */
  lookupRange(data: Uint8Array, start: number, end: number): KnownOwner[] | undefined;
  readonly size: number;
  dispose(): void;
}

export interface FingerprintIndex extends FingerprintRecorder {
  readonly stateDir: string;
  /** The entries as stored (names, lengths, MACs; never values). */
  entries(): FingerprintEntry[];
  /**
   * Loads the scan key (a decrypt) and the entries for matching. Undefined when nothing was
   * ever recorded (no key, no index).
   */
  loadKnownValues(): Promise<KnownValueSet | undefined>;
}

interface IndexFile {
  format: string;
  version: number;
  entries: FingerprintEntry[];
}

function invalid(path: string, why: string): SecretError {
  return new SecretError("INVALID_FORMAT", `scan index ${path} is not valid: ${why}`, {
    hint: "it is rebuilt as values are set or rotated; move the broken file aside to start over",
  });
}

function isEntry(value: unknown): value is FingerprintEntry {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e.name === "string" &&
    (e.source === "credstore" || e.source === "vault") &&
    typeof e.length === "number" &&
    Number.isInteger(e.length) &&
    typeof e.mac === "string" &&
    /^[0-9a-f]{64}$/.test(e.mac) &&
    typeof e.recorded === "string"
  );
}

function readIndex(path: string): FingerprintEntry[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new SecretError("IO_ERROR", `cannot read scan index ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid(path, "not JSON");
  }
  const file = parsed as Partial<IndexFile>;
  if (file?.format !== INDEX_FORMAT) throw invalid(path, "unknown format");
  if (file.version !== INDEX_VERSION) throw invalid(path, `unsupported version ${String(file.version)}`);
  if (!Array.isArray(file.entries) || !file.entries.every(isEntry)) throw invalid(path, "malformed entries");
  return file.entries;
}

function writeIndex(path: string, entries: FingerprintEntry[]): void {
  const file: IndexFile = { format: INDEX_FORMAT, version: INDEX_VERSION, entries };
  writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
}

/** The forms of a stored value worth fingerprinting: as stored, and trimmed of white space. */
function recordedForms(bytes: Buffer): Buffer[] {
  const forms = [bytes];
  let start = 0;
  let end = bytes.length;
  const space = (b: number | undefined) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
  while (start < end && space(bytes[start])) start++;
  while (end > start && space(bytes[end - 1])) end--;
  if ((start > 0 || end < bytes.length) && end > start) forms.push(bytes.subarray(start, end));
  return forms;
}

class StateFingerprintIndex implements FingerprintIndex {
  readonly stateDir: string;
  readonly #creds: CredsOptions;
  readonly #indexPath: string;
  /** The scan key: 32 bytes sealed as they are (src/load/sealed-key.ts). */
  readonly #keyFile: SealedKeyFile;
  readonly #lockPath: string;

  constructor(stateDir: string, creds: CredsOptions) {
    this.stateDir = stateDir;
    this.#creds = creds;
    this.#indexPath = join(stateDir, SCAN_INDEX_FILE);
    this.#keyFile = { name: SCAN_KEY_NAME, path: join(stateDir, SCAN_KEY_NAME), encoding: "raw" };
    this.#lockPath = join(stateDir, SCAN_INDEX_LOCK);
  }

  entries(): FingerprintEntry[] {
    return readIndex(this.#indexPath);
  }

  async record(name: string, value: Secret, source: FingerprintSource): Promise<void> {
    if (name.length === 0) throw new SecretError("INVALID_NAME", "a fingerprint needs a name");
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    await withLock(this.#lockPath, async () => {
      const key = await this.#loadOrCreateKey();
      try {
        const entries = readIndex(this.#indexPath);
        const recorded = new Date().toISOString();
        let changed = false;
        for (const form of recordedForms(value.exposeBytes())) {
          const mac = key.hmac(form).toString("hex");
          if (entries.some((e) => e.name === name && e.source === source && e.mac === mac)) continue;
          entries.push({ name, source, length: form.length, mac, recorded });
          changed = true;
        }
        if (changed) writeIndex(this.#indexPath, entries);
      } finally {
        key.dispose();
      }
    });
  }

  async forget(name: string, source: FingerprintSource): Promise<void> {
    if (!existsSync(this.#indexPath)) return;
    await withLock(this.#lockPath, () => {
      const entries = readIndex(this.#indexPath);
      const kept = entries.filter((e) => !(e.name === name && e.source === source));
      if (kept.length !== entries.length) writeIndex(this.#indexPath, kept);
    });
  }

  async loadKnownValues(): Promise<KnownValueSet | undefined> {
    const entries = readIndex(this.#indexPath);
    if (entries.length === 0 || !existsSync(this.#keyFile.path)) return undefined;
    const key = await this.#loadKey();
    return knownValueSet(key, entries);
  }

  async #loadKey(): Promise<SecretKey> {
    const key = await unsealKey(this.#keyFile, this.#creds);
    if (key === undefined) {
      throw new SecretError("FILE_NOT_FOUND", `scan key not found: ${this.#keyFile.path}`);
    }
    return key;
  }

  // Called under the lock, so two first uses cannot create two different keys.
  async #loadOrCreateKey(): Promise<SecretKey> {
    if (existsSync(this.#keyFile.path)) return this.#loadKey();
    const key = SecretKey.random();
    try {
      await sealKey(this.#keyFile, key.exposeBytes(), this.#creds);
    } catch (err) {
      key.dispose();
      throw err;
    }
    return key;
  }
}

interface MacEntry {
  words: Int32Array;
  owners: KnownOwner[];
}

/** Builds the lookup structure from a key and entries (exported for tests and benchmarks). */
export function knownValueSet(key: SecretKey, entries: readonly FingerprintEntry[]): KnownValueSet {
  // Keyed by the first word of the MAC; the other seven words are compared on a hit.
  const byFirstWord = new Map<number, MacEntry[]>();
  const lengths = new Set<number>();
  let size = 0;
  for (const e of entries) {
    if (e.length < MIN_KNOWN_LENGTH) continue;
    lengths.add(e.length);
    const words = hexToWords(e.mac);
    const bucket = byFirstWord.get(words[0]!) ?? [];
    let entry = bucket.find((m) => m.words.every((w, i) => w === words[i]));
    if (entry === undefined) {
      entry = { words, owners: [] };
      bucket.push(entry);
      size++;
    }
    if (!entry.owners.some((o) => o.name === e.name && o.source === e.source)) {
      entry.owners.push({ name: e.name, source: e.source });
    }
    byFirstWord.set(words[0]!, bucket);
  }
  const sorted = [...lengths].sort((a, b) => a - b);
  const hmac = new PrecomputedHmacSha256(key.exposeBytes());
  const out = new Int32Array(8);
  const lookupRange = (data: Uint8Array, start: number, end: number): KnownOwner[] | undefined => {
    if (!lengths.has(end - start)) return undefined;
    hmac.macInto(data, start, end, out);
    const bucket = byFirstWord.get(out[0]!);
    if (bucket === undefined) return undefined;
    for (const m of bucket) {
      let equal = true;
      for (let i = 1; i < 8; i++) if (m.words[i] !== out[i]) equal = false;
      if (equal) return m.owners;
    }
    return undefined;
  };
  return {
    lengths,
    minLength: sorted[0] ?? Number.POSITIVE_INFINITY,
    maxLength: sorted.at(-1) ?? 0,
    size,
    lookup: (candidate) => lookupRange(candidate, 0, candidate.length),
    lookupRange,
    dispose: () => {
      hmac.dispose();
      wipe(out);
      key.dispose();
    },
  };
}

/**
 * Opens the fingerprint index kept in `stateDir`. Nothing is read or created until a method is
 * called; the scan key is created (encrypted with systemd-creds) on the first `record`.
 */
export async function openFingerprintIndex(
  stateDir: string,
  creds: CredsOptions = {},
): Promise<FingerprintIndex> {
  return new StateFingerprintIndex(stateDir, creds);
}
