import { createHash } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type AuditLog, openStateAuditLog } from "../audit/index.js";
import { readMeta, type StoreLayout, type VersionMeta } from "../credstore/index.js";
import {
  acquireLock,
  crashPoint,
  fsyncDirectory,
  type HeldLock,
  parseProcessTag,
  processAlive,
  processTag,
  writeFileAtomic,
} from "../durable/index.js";
import { isKeyholdError, KeyholdError } from "../secret/index.js";
import { assertCredentialName } from "../systemd/index.js";
import { boundedEntries, readBoundedFile, resetFailed, restartUnit, showUnits } from "../systemd/usage.js";
import type { CredentialStore, ValueSource } from "./credentials.js";
import type { CredentialUser } from "./rollout-usage.js";

/*
 * `rotate --restart` (and `vault put --restart`): a new version, then every running unit that
 * loads it restarted one at a time, each waited for until healthy (its start job, ExecStartPost=
 * health check included, succeeded and it stayed active for the settle time); on a failure the
 * previous version is made current again and the units already moved are restarted back onto it.
 *
 * A small intent record in STATE/rollouts/ says what is under way, rewritten atomically at every
 * step, so a keyhold killed at any point leaves a state the next `rotate` or `doctor --fix`
 * explains and finishes: a write that never became current is forgotten, a rollout is completed
 * (or rolled back if a unit fails), a rollback is completed. Audit records name units and
 * versions, never values.
 *
 * What is rotated is a RolloutSubject: a credential of the store (here) or a vault secret
 * (src/app/vault-rollout.ts); the engine only asks it for its current version, to make an earlier
 * one current again and for the running units that load it.
 */

/** A credential of the store (by NAME) or a vault secret (by NS/NAME). */
export type RolloutKind = "credential" | "vault";

/** What a rollout moves to a new version. */
export interface RolloutSubject {
  readonly kind: RolloutKind;
  /** NAME or NS/NAME: in intents, audit records and messages. */
  readonly name: string;
  /** The version current now; 0 when there is none keyhold kept. */
  current(): Promise<number>;
  /** Makes an earlier version current again (audited where the store or the vault audits it). */
  makeCurrent(version: number): Promise<void>;
  /** The running units that load it, each once, in a stable order. */
  runningUsers(): Promise<string[]>;
  /** Releases what it holds (an opened vault). */
  close?(): Promise<void>;
}

export interface RolloutOptions {
  /** How long a restarted unit must stay active (ms). */
  settleMs: number;
  /** How long one restart may take, its health check included (ms). */
  timeoutMs: number;
  /** Make the previous version current again when a unit fails (default true). */
  rollback: boolean;
  /** Each step, as a line for a person. */
  report: (line: string) => void;
}

export type RolloutOutcome = "done" | "rolled-back" | "left-failed" | "forgotten";

export interface RolloutResult {
  name: string;
  outcome: RolloutOutcome;
  /** The version current at the end. */
  current: number;
  restarted: string[];
  failed?: { unit: string; reason: string };
}

type Phase = "writing" | "restarting" | "rolling-back";

/** What is under way; never a value. */
export interface RolloutIntent {
  v: 1;
  /** Absent in records written before vault secrets could be rotated: a credential. */
  kind?: RolloutKind;
  name: string;
  /** The version current before the rotation. */
  from: number;
  /** The version written, once known. */
  to: number | null;
  phase: Phase;
  /** The running units to move, in order. */
  units: string[];
  /** Those restarted onto the new version and found healthy. */
  moved: string[];
  /** The unit being restarted when the record was written. */
  current: string | null;
  rollback: boolean;
  owner: string;
  started: string;
}

/** Which subject an intent or lock is about: a credential's name as it always was, a vault secret's prefixed. */
interface Subject {
  kind?: RolloutKind | undefined;
  name: string;
}
const kindOf = (s: Subject): RolloutKind => s.kind ?? "credential";
const rolloutDir = (l: StoreLayout): string => join(l.state, "rollouts");
const intentBase = (s: Subject): string =>
  createHash("sha256")
    .update(kindOf(s) === "vault" ? `vault:${s.name}` : s.name)
    .digest("hex")
    .slice(0, 32);
export const intentFile = (l: StoreLayout, s: Subject): string => join(rolloutDir(l), `${intentBase(s)}.json`);
const lockPath = (l: StoreLayout, s: Subject): string => join(rolloutDir(l), `${intentBase(s)}.lock`);
export const INTENT_MAX = 256 * 1024;
/** How messages name the subject: a vault secret says so. */
const shown = (s: Subject): string => (kindOf(s) === "vault" ? `vault secret ${s.name}` : s.name);

function writeIntent(l: StoreLayout, intent: RolloutIntent): void {
  mkdirSync(rolloutDir(l), { recursive: true, mode: 0o700 });
  writeFileAtomic(intentFile(l, intent), `${JSON.stringify(intent)}\n`, { mode: 0o600 });
}

function dropIntent(l: StoreLayout, s: Subject): void {
  rmSync(intentFile(l, s), { force: true });
  fsyncDirectory(rolloutDir(l));
}

export function parseIntent(text: string | undefined): RolloutIntent | undefined {
  if (text === undefined) return undefined;
  try {
    const i = JSON.parse(text) as RolloutIntent;
    const strings = (a: unknown) => Array.isArray(a) && a.every((s) => typeof s === "string");
    if (
      i.v !== 1 ||
      !(i.kind === undefined || i.kind === "credential" || i.kind === "vault") ||
      typeof i.name !== "string" ||
      !Number.isSafeInteger(i.from) ||
      !(i.to === null || Number.isSafeInteger(i.to)) ||
      !["writing", "restarting", "rolling-back"].includes(i.phase) ||
      !strings(i.units) ||
      !strings(i.moved) ||
      typeof i.owner !== "string"
    )
      return undefined;
    return i;
  } catch {
    return undefined;
  }
}

/** Rollouts a keyhold that is gone left unfinished (for doctor). */
export function interruptedRollouts(l: StoreLayout): RolloutIntent[] {
  const out: RolloutIntent[] = [];
  for (const f of boundedEntries(rolloutDir(l)).names) {
    if (!/^[0-9a-f]{32}\.json$/.test(f)) continue;
    const intent = parseIntent(readBoundedFile(join(rolloutDir(l), f), INTENT_MAX));
    if (intent && !ownerAlive(intent)) out.push(intent);
  }
  return out;
}

export function ownerAlive(intent: RolloutIntent): boolean {
  const owner = parseProcessTag(intent.owner);
  return owner !== undefined && owner.pid !== process.pid && processAlive(owner.pid, owner.started);
}

/** What an interrupted rollout was doing, in a sentence. */
export function describeIntent(i: RolloutIntent): string {
  const at = i.current ? ` (at ${i.current})` : "";
  switch (i.phase) {
    case "writing":
      return `a rotation of ${shown(i)} from version ${i.from} was interrupted while writing the new version`;
    case "restarting":
      return `a rotation of ${shown(i)} to version ${i.to} was interrupted while restarting units${at}: ${i.moved.length} of ${i.units.length} moved`;
    case "rolling-back":
      return `a rollback of ${shown(i)} to version ${i.from} was interrupted${at}`;
  }
}

class Rollout {
  #log: AuditLog | undefined;
  constructor(
    readonly l: StoreLayout,
    readonly subject: RolloutSubject,
    readonly intent: RolloutIntent,
    readonly options: RolloutOptions,
  ) {}

  save(): void {
    this.intent.owner = processTag();
    writeIntent(this.l, this.intent);
  }

  /** A test-only crash point (src/durable/crash-point.ts) named by the phase and the step. */
  step(what: string): void {
    crashPoint(`${this.intent.phase}:${what}`);
  }

  /** restart and rollout records; a vault secret's are vault.restart and vault.rollout. */
  async audit(op: string, result: "ok" | "error", detail: Record<string, string | number>, code?: string) {
    this.#log ??= await openStateAuditLog(this.l.state, this.l.creds);
    const named = this.subject.kind === "vault" ? `vault.${op}` : op;
    await this.#log.append({ op: named, name: this.intent.name, result, ...(code ? { code } : {}), detail });
  }

  /** Restarts one unit and waits until it is healthy; audited either way. */
  async restart(unit: string, version: number): Promise<string | undefined> {
    this.intent.current = unit;
    this.save();
    this.step(`restart:${unit}`);
    this.options.report(`restarting ${unit} (version ${version})`);
    const problem = await restartAndSettle(unit, this.options, () => this.step(`settle:${unit}`));
    if (problem === undefined) {
      await this.audit("restart", "ok", { unit, version });
      this.step(`healthy:${unit}`);
      this.options.report(`${unit} is healthy`);
    } else {
      await this.audit("restart", "error", { unit, version }, "UNIT_UNHEALTHY");
      this.options.report(`${unit} is not healthy: ${problem}`);
    }
    return problem;
  }

  /** Moves every unit not yet moved; on a failure rolls back (or leaves it, as asked). */
  async forward(): Promise<RolloutResult> {
    const i = this.intent;
    const to = i.to as number;
    i.phase = "restarting";
    for (const unit of i.units) {
      if (i.moved.includes(unit)) continue;
      const problem = await this.restart(unit, to);
      if (problem !== undefined) {
        if (!i.rollback) {
          dropIntent(this.l, i);
          await this.audit(
            "rollout",
            "error",
            { version: to, failed: unit, rollback: "no" },
            "UNIT_UNHEALTHY",
          );
          return {
            name: i.name,
            outcome: "left-failed",
            current: to,
            restarted: [...i.moved],
            failed: { unit, reason: problem },
          };
        }
        i.moved.push(unit); // it was restarted onto the new version: it goes back too
        const back = await this.backward();
        return { ...back, failed: { unit, reason: problem } };
      }
      i.moved.push(unit);
      i.current = null;
      this.save();
    }
    this.step("all-moved");
    dropIntent(this.l, i);
    await this.audit("rollout", "ok", { version: to, units: i.units.length });
    return { name: i.name, outcome: "done", current: to, restarted: [...i.moved] };
  }

  /** Makes `from` current again and restarts the units that were moved. */
  async backward(): Promise<RolloutResult> {
    const i = this.intent;
    if (i.from === 0) {
      // A credential keyhold kept no history of (made by hand): there is no version to go back to.
      dropIntent(this.l, i);
      const to = i.to ?? 0;
      await this.audit("rollout", "error", { version: to, rolledBack: "no" }, "UNIT_UNHEALTHY");
      this.options.report(`${shown(i)} had no earlier version keyhold kept: it stays version ${to}`);
      return { name: i.name, outcome: "left-failed", current: to, restarted: [...i.moved] };
    }
    i.phase = "rolling-back";
    this.save();
    this.step("intent");
    // Only the version this rollout wrote is taken back: one another writer made current since (a
    // plain rotate, another host sharing the vault) stays current, and the moved units go onto it.
    let back = i.from;
    const now = await this.subject.current();
    if (now !== i.from && (i.to === null || now === i.to)) {
      this.options.report(`making version ${i.from} of ${shown(i)} current again`);
      await this.subject.makeCurrent(i.from);
      this.step("switched");
    } else if (now !== i.from) {
      back = now;
      this.options.report(
        `version ${now} of ${shown(i)} was made current by another writer meanwhile: it stays current`,
      );
    }
    const still: string[] = [];
    for (const unit of [...i.moved]) {
      const problem = await this.restart(unit, back);
      if (problem !== undefined) still.push(unit);
    }
    this.step("all-back");
    dropIntent(this.l, i);
    await this.audit(
      "rollout",
      "error",
      { version: back, rolledBack: "yes", unhealthy: still.length },
      "UNIT_UNHEALTHY",
    );
    this.options.report(
      still.length === 0
        ? `rolled back: ${shown(i)} is version ${back} again and every unit that was moved is healthy on it`
        : `rolled back to version ${back}, but still unhealthy: ${still.join(", ")}`,
    );
    return { name: i.name, outcome: "rolled-back", current: back, restarted: [...i.moved] };
  }
}

/** Restart, then the unit must be active and stay the same invocation for the settle time. */
async function restartAndSettle(
  unit: string,
  o: RolloutOptions,
  settling: () => void,
): Promise<string | undefined> {
  // A unit that failed before (its automatic restarts with a refused value, say) may have hit its
  // start limit: systemd would then refuse the restart that puts it right.
  await resetFailed(unit);
  const r = await restartUnit(unit, o.timeoutMs);
  if (!r.ok) return `its start failed${r.message ? `: ${r.message}` : ""}`;
  const first = (await showUnits([unit])).get(unit);
  if (first === undefined || first.activeState !== "active")
    return `it is ${first?.activeState ?? "unknown"} (${first?.subState ?? "?"}) after its start`;
  settling();
  const until = Date.now() + o.settleMs;
  while (Date.now() < until) {
    await sleep(Math.min(250, Math.max(1, until - Date.now())));
    const now = (await showUnits([unit])).get(unit);
    if (now === undefined || now.activeState !== "active" || now.invocationId !== first.invocationId)
      return `it did not stay active for ${o.settleMs / 1000} s (now ${now?.activeState ?? "unknown"}/${now?.subState ?? "?"})`;
  }
  return undefined;
}

/** The rollout locks this process holds (by lock path): its own writes go through them. */
const heldHere = new Set<string>();

/** Whether this process holds NAME's rollout lock (a rollout writing its own versions). */
export const holdsRolloutLock = (l: StoreLayout, name: string): boolean =>
  heldHere.has(lockPath(l, { name }));

/** Takes the per-credential rollout lock; another keyhold in the middle of one is an error. */
export async function lockRollout(l: StoreLayout, s: Subject): Promise<HeldLock> {
  mkdirSync(rolloutDir(l), { recursive: true, mode: 0o700 });
  const path = lockPath(l, s);
  try {
    const lock = await acquireLock(path, 2_000);
    heldHere.add(path);
    return {
      release() {
        heldHere.delete(path);
        lock.release();
      },
    };
  } catch (err) {
    if (isKeyholdError(err, "LOCK_TIMEOUT"))
      throw new KeyholdError(
        "ROLLOUT_IN_PROGRESS",
        `another keyhold is rotating ${shown(s)} and restarting its units`,
        {
          hint: "wait for it to finish",
        },
      );
    throw err;
  }
}

/** Finishes a rollout a killed keyhold left; the lock is held. */
async function finish(
  l: StoreLayout,
  subject: RolloutSubject,
  intent: RolloutIntent,
  options: RolloutOptions,
): Promise<RolloutResult> {
  options.report(`keyhold: ${describeIntent(intent)}; finishing it`);
  const current = await subject.current();
  const run = new Rollout(l, subject, intent, { ...options, rollback: intent.rollback });
  if (intent.phase === "writing") {
    if (current === 0 || current === intent.from) {
      dropIntent(l, intent);
      options.report(
        `the new version never became current: ${shown(intent)} is still version ${intent.from}, no unit was restarted`,
      );
      return { name: intent.name, outcome: "forgotten", current: intent.from, restarted: [] };
    }
    intent.to = current;
  }
  if (intent.phase === "rolling-back") {
    // The unit being restarted may be half-way: it goes back too.
    if (intent.current && !intent.moved.includes(intent.current)) intent.moved.push(intent.current);
    return run.backward();
  }
  // restarting: the unit being restarted is restarted again (a restart is idempotent).
  return run.forward();
}

/**
 * The engine of `rotate NAME --restart` and `vault put NS/NAME --restart`: finishes what an earlier
 * one left for the same subject, records the intent, calls `write` (which makes the new version
 * current and returns its number), then moves the running units that load it one at a time.
 */
export async function rollOut(
  l: StoreLayout,
  subject: RolloutSubject,
  write: () => Promise<number>,
  options: RolloutOptions,
): Promise<{ result: RolloutResult; resumed?: RolloutResult }> {
  const lock = await lockRollout(l, subject);
  try {
    let resumed: RolloutResult | undefined;
    const left = parseIntent(readBoundedFile(intentFile(l, subject), INTENT_MAX));
    if (left !== undefined) resumed = await finish(l, subject, left, options);
    const from = await subject.current();
    const units = await subject.runningUsers();
    const intent: RolloutIntent = {
      v: 1,
      kind: subject.kind,
      name: subject.name,
      from,
      to: null,
      phase: "writing",
      units,
      moved: [],
      current: null,
      rollback: options.rollback,
      owner: processTag(),
      started: new Date().toISOString(),
    };
    const run = new Rollout(l, subject, intent, options);
    run.save();
    run.step("intent");
    try {
      intent.to = await write();
    } catch (err) {
      dropIntent(l, intent);
      throw err;
    }
    run.step("current");
    intent.phase = "restarting";
    run.save();
    if (units.length === 0) options.report(`no running unit loads ${shown(subject)}: nothing to restart`);
    const result = await run.forward();
    return { result, ...(resumed ? { resumed } : {}) };
  } finally {
    lock.release();
  }
}

/**
 * A credential a top-level drop-in (service.d/) gives to every unit of its type: restarting each
 * running one would restart the host's own services (dbus, journald, logind) in turn. Refused
 * before anything is written; the units can be moved by hand, or given it by a narrower drop-in.
 */
function refuseTypeWide(name: string, running: readonly CredentialUser[]): void {
  const wide = [...new Set(running.flatMap((u) => (u.typeWide === null ? [] : [u.typeWide])))];
  if (wide.length === 0) return;
  const count = running.filter((u) => u.typeWide !== null).length;
  throw new KeyholdError(
    "USAGE",
    `--restart would restart every running unit of a type: ${count} get ${name} through ${wide.join(", ")}`,
    {
      hint: `give it to the units that need it by their own or a prefix drop-in (app-.service.d/), or rotate without --restart and restart them yourself (keyhold status ${name} lists them)`,
    },
  );
}

/** A credential of the store as a rollout's subject. */
export function credentialSubject(store: CredentialStore, name: string): RolloutSubject {
  const l = store.layout;
  return {
    kind: "credential",
    name,
    current: async () => readMeta(l, name)?.current ?? 0,
    makeCurrent: async (version) => {
      await store.rollback(name, version);
    },
    runningUsers: async () => {
      // Loaded when a rollout runs: set, rotate and rm reach this file through their rollout guard.
      const { findCredentialUsers } = await import("./rollout-usage.js");
      const { users } = await findCredentialUsers(l);
      const running = (users.get(name) ?? []).filter((u) => u.running);
      refuseTypeWide(name, running);
      return [...new Set(running.map((u) => u.unit))];
    },
  };
}

/**
 * `rotate NAME --restart`: finishes what an earlier one left, writes the new version through
 * CredentialStore.rotate, then moves the running units that load it one at a time.
 */
export async function rotateAndRestart(
  store: CredentialStore,
  name: string,
  value: ValueSource,
  options: RolloutOptions & { notAfter?: string },
): Promise<{ version: VersionMeta | undefined; result: RolloutResult; resumed?: RolloutResult }> {
  assertCredentialName(name);
  let version: VersionMeta | undefined;
  const write = async () => {
    version = await store.rotate(
      name,
      value,
      options.notAfter === undefined ? {} : { notAfter: options.notAfter },
    );
    return version.version;
  };
  const { result, resumed } = await rollOut(store.layout, credentialSubject(store, name), write, options);
  return { version, result, ...(resumed ? { resumed } : {}) };
}

/** What finishing one interrupted rollout came to: its result, or why it could not be finished. */
export interface FinishedRollout {
  intent: RolloutIntent;
  result?: RolloutResult;
  error?: unknown;
}

/**
 * `doctor --fix`: finishes every rollout a killed keyhold left. `subjectOf` gives each intent's
 * subject (a vault secret's needs the vault opened); one that cannot be had is left as it is.
 */
export async function finishInterrupted(
  l: StoreLayout,
  subjectOf: (intent: RolloutIntent) => Promise<RolloutSubject>,
  options: RolloutOptions,
): Promise<FinishedRollout[]> {
  const out: FinishedRollout[] = [];
  for (const intent of interruptedRollouts(l)) {
    let subject: RolloutSubject;
    try {
      subject = await subjectOf(intent);
    } catch (error) {
      out.push({ intent, error });
      continue;
    }
    try {
      let lock: Awaited<ReturnType<typeof lockRollout>>;
      try {
        lock = await lockRollout(l, intent);
      } catch (error) {
        // Another keyhold took it since it was listed (a `rotate --restart` finishing it first):
        // it is that one's to finish; the other rollouts are still this one's.
        out.push({ intent, error });
        continue;
      }
      try {
        const again = parseIntent(readBoundedFile(intentFile(l, intent), INTENT_MAX));
        if (again) out.push({ intent, result: await finish(l, subject, again, options) });
      } finally {
        lock.release();
      }
    } finally {
      await subject.close?.();
    }
  }
  return out;
}

/** What `rotate --restart` says when a unit failed: which, and where the credential stands now. */
export function rolloutFailure(name: string, result: RolloutResult): KeyholdError {
  const failed = result.failed ? `${result.failed.unit} failed: ${result.failed.reason}` : "a unit failed";
  return new KeyholdError(
    "UNIT_UNHEALTHY",
    result.outcome === "rolled-back"
      ? `${failed}; rolled back: ${name} is version ${result.current} again`
      : `${failed}; ${name} stays version ${result.current} (--no-rollback)`,
    {
      hint: `look at it with: systemctl status ${result.failed?.unit ?? ""}; journalctl -u ${result.failed?.unit ?? ""}`,
    },
  );
}
