import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { withLock, writeFileAtomic } from "../durable/index.js";
import { SecretError } from "../secret/index.js";
import { readHostFile } from "./host-file.js";
import { keyText } from "./refs.js";

/*
 * The store's history and what this host remembers of it (docs/vault-format.md sections 4 and 7).
 *
 * Every head names the MAC of the head before it (`prev`), so the heads form a chain keyed by the
 * integrity key; the MACs of all earlier heads are kept in `chain/<n>` records, CHAIN_SEGMENT per
 * record. Each host remembers the generation and head MAC it last saw. A store is accepted only if
 * its chain holds that very head at that generation: an older copy put back is refused
 * (VAULT_ROLLBACK) and so is one that was put back and then written to (VAULT_FORKED), however
 * many commits later.
 */

/** Head MACs per `chain/<n>` record: `chain/<n>` holds generations n·CHAIN_SEGMENT … (n+1)·CHAIN_SEGMENT − 1. */
export const CHAIN_SEGMENT = 128;
const HOST_STATE_MAX_BYTES = 4096;
const MAC_B64 = /^[A-Za-z0-9+/]{43}=$/;
const HOST_ID = /^[0-9a-f]{32}$/;
/** A master check (16 bytes, base64), as `meta.master.check` holds it. */
const CHECK_B64 = /^[A-Za-z0-9+/]{22}==$/;
/** Retired masters a host remembers, newest last (one per master rotation it learnt of). */
export const RETIRED_MAX = 64;

export function chainKey(generation: number): string {
  return `chain/${Math.floor(generation / CHAIN_SEGMENT)}`;
}

/** A `chain/<n>` body: the MACs of the heads of generations first, first + 1, … */
export interface ChainSegment {
  first: number;
  links: string[];
}

/** The link a segment holds for `generation`, or undefined (also for a malformed segment). */
export function linkIn(segment: ChainSegment | undefined, generation: number): string | undefined {
  if (segment === undefined || !Number.isSafeInteger(segment.first) || !Array.isArray(segment.links))
    return undefined;
  const link = segment.links[generation - segment.first];
  return typeof link === "string" && MAC_B64.test(link) ? link : undefined;
}

/** What a host remembers of one store: `vault-<store id>.seen` in its state directory. */
export interface HostState {
  /** The highest generation this host has seen; 0: none yet. */
  generation: number;
  /** The MAC of the head it saw at that generation; null when it only knows the number (before format 2). */
  head: string | null;
  /** This host's identity in the store's audit seals; null until it needs one. */
  host: string | null;
  /**
   * The checks of the masters this host has learnt were replaced by a master rotation (from the
   * `retired` list of a store it accepted): a store that names one of them is a copy from before
   * a rotation, whoever kept the old master could have written it.
   */
  retired: string[];
}

function hostStateBroken(path: string, why: string, cause?: unknown): SecretError {
  return new SecretError("INVALID_FORMAT", `this host's record of the vault's history ${path} ${why}`, {
    hint: `look at it; removing it makes this host trust the store as it is now, as at first sight: rm ${path}`,
    ...(cause === undefined ? {} : { cause }),
  });
}

function parseHostState(text: string, path: string): HostState {
  // Before format 2 the file held the generation alone.
  if (/^[0-9]{1,15}\n?$/.test(text))
    return { generation: Number.parseInt(text, 10), head: null, host: null, retired: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw hostStateBroken(path, "is not valid JSON");
  }
  const d = doc as Record<string, unknown>;
  if (
    typeof doc !== "object" ||
    doc === null ||
    Array.isArray(doc) ||
    !Number.isSafeInteger(d.generation) ||
    (d.generation as number) < 0 ||
    !(d.head === null || (typeof d.head === "string" && MAC_B64.test(d.head))) ||
    !(d.host === null || (typeof d.host === "string" && HOST_ID.test(d.host))) ||
    !(
      d.retired === undefined ||
      (Array.isArray(d.retired) &&
        d.retired.length <= RETIRED_MAX &&
        d.retired.every((c) => typeof c === "string" && CHECK_B64.test(c)))
    )
  ) {
    throw hostStateBroken(path, "is malformed");
  }
  return {
    generation: d.generation as number,
    head: d.head as string | null,
    host: d.host as string | null,
    retired: (d.retired as string[] | undefined) ?? [],
  };
}

/**
 * This host's memory of a store, or undefined when it has none. A file that cannot be read or
 * parsed is an error, never "no memory": that would silently turn rollback detection off.
 */
export function readHostState(path: string): HostState | undefined {
  const text = readHostFile(path, HOST_STATE_MAX_BYTES, (what, cause) => hostStateBroken(path, what, cause));
  return text === undefined ? undefined : parseHostState(text, path);
}

/** Read-modify-write of the host state under its lock, so processes of one host never undo each other. */
async function updateHostState(
  path: string,
  change: (current: HostState | undefined) => HostState | undefined,
): Promise<HostState> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  return withLock(`${path}.lock`, () => {
    const current = readHostState(path);
    const next = change(current);
    if (next === undefined) return current as HostState;
    // `retired` only when there is one: the file stays what it was before master rotations counted.
    const { retired, ...rest } = next;
    writeFileAtomic(path, `${JSON.stringify(retired.length > 0 ? next : rest)}\n`, { mode: 0o600 });
    return next;
  });
}

/**
 * Remembers that this host saw `head` at `generation` (null for a format 1 store: without a
 * history, only the number can be compared later), and the masters that store lists as retired.
 * Never moves back: another process of this host may have seen a later generation meanwhile.
 */
export function rememberHead(
  path: string,
  generation: number,
  head: string | null,
  retired: readonly string[] = [],
): Promise<HostState> {
  return updateHostState(path, (current) => {
    const known = current?.retired ?? [];
    const learnt = retired.filter((check) => CHECK_B64.test(check) && !known.includes(check));
    const merged = [...known, ...learnt].slice(-RETIRED_MAX);
    // Same or older generation: nothing new to learn but retired masters (a different head at the
    // same generation is left for the next check to find).
    const newer =
      current === undefined ||
      generation > current.generation ||
      (generation === current.generation && current.head === null && head !== null);
    if (!newer) return learnt.length === 0 ? undefined : { ...current, retired: merged };
    return { generation, head, host: current?.host ?? newHostId(), retired: merged };
  });
}

/** This host's identity for the store's audit seals, made the first time it is needed. */
export async function hostId(path: string): Promise<string> {
  const known = readHostState(path)?.host;
  if (known !== undefined && known !== null) return known;
  const state = await updateHostState(path, (current) =>
    current?.host ? undefined : { generation: 0, head: null, retired: [], ...current, host: newHostId() },
  );
  return state.host as string;
}

function newHostId(): string {
  return randomBytes(16).toString("hex");
}

/** A store's head as the history check needs it. */
export interface StoreHistory {
  generation: number;
  /** The MAC of the current head. */
  head: string;
  /** The generation where the store's chain starts; null for a format 1 store (no chain). */
  since: number | null;
  /** The check of the master the store names (`meta.master.check`). */
  master: string;
  /** The MAC of the head of an earlier generation, from the store's `chain/` records. */
  linkAt(generation: number): Promise<string | undefined>;
}

export type HistoryVerdict =
  | { kind: "first-sight" }
  | { kind: "unchanged" }
  | { kind: "extended" }
  | { kind: "rolled-back"; seen: number; problem: string }
  | { kind: "forked"; seen: number; problem: string };

/** Does `store` extend what this host saw (`seen`)? docs/vault-format.md section 4. */
export async function judgeHistory(
  seen: HostState | undefined,
  store: StoreHistory,
): Promise<HistoryVerdict> {
  const retired = retiredMaster(seen, store.master);
  if (retired !== undefined) return retired;
  if (seen === undefined || seen.generation === 0) return { kind: "first-sight" };
  const m = seen.generation;
  if (store.generation < m)
    return {
      kind: "rolled-back",
      seen: m,
      problem: `store generation ${store.generation} is older than generation ${m} this host has seen`,
    };
  const forked = (why: string): HistoryVerdict => ({
    kind: "forked",
    seen: m,
    problem: `the store's history does not hold the head this host saw at generation ${m} (${why}): an older copy of the store was put back and written to since`,
  });
  // A memory of a format 1 store knows the number only. For a store still in format 1 that is all
  // there is to compare. A chained store is the first head history this host sees — if it starts
  // after m: the head this host saw at m was a format 1 head, so a history that claims generation m
  // or one before it for itself was not written on top of what this host saw.
  if (seen.head === null) {
    if (store.since !== null)
      return store.since > m
        ? { kind: "first-sight" }
        : forked(`its history starts at generation ${store.since}, where this host saw an unchained store`);
    return store.generation === m ? { kind: "unchanged" } : { kind: "extended" };
  }
  if (store.since === null) return forked("the store keeps no history of its heads");
  if (store.generation === m)
    return store.head === seen.head ? { kind: "unchanged" } : forked("it has another head there");
  if (m < store.since) return forked(`its history starts at generation ${store.since}`);
  const link = await store.linkAt(m);
  if (link === undefined) return forked("its history has no head there");
  return link === seen.head ? { kind: "extended" } : forked("it had another head there");
}

/**
 * A store that names a master this host has seen replaced by a rotation is a copy from before it
 * (whoever kept the old master can write such a copy, history and all): refused before anything
 * else, even before the master is looked for.
 */
export function retiredMaster(seen: HostState | undefined, master: string): HistoryVerdict | undefined {
  if (seen === undefined || !seen.retired.includes(master)) return undefined;
  return {
    kind: "rolled-back",
    seen: seen.generation,
    problem:
      "the store names a master key this host has seen replaced by a master rotation: it is a copy from before that rotation, which whoever kept the old master could have written",
  };
}

export function historyError(verdict: HistoryVerdict, seenPath: string): SecretError | undefined {
  if (verdict.kind === "rolled-back")
    return new SecretError("VAULT_ROLLBACK", `vault was replaced by an older copy: ${verdict.problem}`, {
      hint: `if you restored an older backup on purpose, remove ${seenPath}; otherwise investigate`,
    });
  if (verdict.kind === "forked")
    return new SecretError("VAULT_FORKED", `vault history forked: ${verdict.problem}`, {
      hint: `changes this host saw are missing from the store: put back its newest copy; to accept the store as it is now, remove ${seenPath} (this host then trusts it as at first sight)`,
    });
  return undefined;
}

/**
 * What is wrong with a store's head history, if anything: the `chain/` records must hold the MACs
 * of generations `since` … generation − 1, in order and each in its own record, and the head's
 * `prev` must be the last of them (null when the chain starts at this very head). A format 1
 * store (`chained` false) has no history at all.
 */
export function chainProblems(
  head: { generation: number; since?: number; prev?: string | null },
  chained: boolean,
  segments: ReadonlyMap<string, ChainSegment>,
): string[] {
  if (!chained)
    return head.since !== undefined || head.prev !== undefined || segments.size > 0
      ? ["a format 1 store holds a head history"]
      : [];
  const { generation, since } = head;
  if (since === undefined || !Number.isSafeInteger(since) || since < 1 || since > generation)
    return ["the integrity root does not say where the store's history starts"];
  let next = since;
  const ordered = [...segments].sort(([a], [b]) => Number(a.slice(6)) - Number(b.slice(6)));
  for (const [key, segment] of ordered) {
    const links = Array.isArray(segment.links) ? segment.links : [];
    const last = segment.first + links.length - 1;
    if (
      segment.first !== next ||
      links.length === 0 ||
      chainKey(segment.first) !== key ||
      chainKey(last) !== key ||
      links.some((_, i) => linkIn(segment, segment.first + i) === undefined)
    )
      return [`the store's head history record ${keyText(key)} is out of place`];
    next = last + 1;
  }
  if (next !== generation) return ["the store's head history is incomplete"];
  const prev = generation === since ? null : linkIn(segments.get(chainKey(generation - 1)), generation - 1);
  if (head.prev !== prev) return ["the integrity root does not follow the head before it"];
  return [];
}
