import type { SecretError } from "../secret/index.js";
import type { StoredRecord } from "./backend.js";
import type { Keyring } from "./keyring.js";
import { type Body, openEnvelope } from "./records.js";

/*
 * One attempt of a commit: the reads it makes over one checked read of the whole store, the
 * writes it stages, and the keyring the handle takes on if it lands (barrier.ts commits it).
 */
export class Transaction {
  readonly #records: ReadonlyMap<string, StoredRecord>;
  /** The integrity key the store was checked with: every record read is checked under it. */
  readonly #readIk: Keyring["ik"];
  readonly #bodies = new Map<string, Body>();
  readonly writes = new Map<string, Body | null>();
  #keys: Keyring;

  constructor(records: ReadonlyMap<string, StoredRecord>, keys: Keyring) {
    this.#records = records;
    this.#readIk = keys.ik;
    this.#keys = keys;
  }

  /**
   * The keys this commit is made with and the handle takes on when it lands; with an integrity
   * key other than the one the store was read with (master rotation), every record is MACed anew.
   */
  get keys(): Keyring {
    return this.#keys;
  }

  /** Makes `next` the keys of this commit (a DEK it made, or a master rotation's new keys). */
  rekey(next: Keyring): void {
    this.#keys = next;
  }

  /** The record as this transaction sees it (its own writes first), as a private copy; its MAC is checked. */
  async get<T extends Body>(key: string): Promise<T | undefined> {
    if (this.writes.has(key)) {
      const w = this.writes.get(key);
      return w === null || w === undefined ? undefined : (structuredClone(w) as T);
    }
    let body = this.#bodies.get(key);
    if (body === undefined) {
      const rec = this.#records.get(key);
      if (rec === undefined) return undefined;
      body = openEnvelope<Body>(this.#readIk, key, rec.value);
      this.#bodies.set(key, body);
    }
    return structuredClone(body) as T;
  }

  async require<T extends Body>(key: string, missing: () => SecretError): Promise<T> {
    const body = await this.get<T>(key);
    if (body === undefined) throw missing();
    return body;
  }

  /** The keys under `prefix` as this transaction sees them, sorted. */
  list(prefix: string): string[] {
    const keys = new Set([...this.#records.keys()].filter((k) => k.startsWith(prefix)));
    for (const [key, write] of this.writes)
      if (key.startsWith(prefix)) {
        if (write === null) keys.delete(key);
        else keys.add(key);
      }
    return [...keys].sort();
  }

  put(key: string, body: Body): void {
    this.writes.set(key, body);
  }

  delete(key: string): void {
    this.writes.set(key, null);
  }

  written<T>(key: string): T | undefined {
    const w = this.writes.get(key);
    return w === null || w === undefined ? undefined : (w as T);
  }
}
