import { assertStoreUsable, type StoreLayout } from "../credstore/index.js";
import { parseProcessTag } from "../durable/index.js";
import { isKeyholdError, KeyholdError } from "../secret/index.js";
import { assertCredentialName } from "../systemd/index.js";
import { readBoundedFile } from "../systemd/usage.js";
import {
  holdsRolloutLock,
  INTENT_MAX,
  intentFile,
  lockRollout,
  ownerAlive,
  parseIntent,
  type RolloutIntent,
} from "./rollout.js";

/*
 * set, rotate, rollback and rm of a credential against `rotate --restart` of the same one. A
 * rollout that fails makes its starting version current again: a version another keyhold wrote
 * in the meantime would be silently undone, and a rollback or rm under it would leave units on a
 * version nobody chose. So each of them takes the credential's rollout lock for its write, and
 * refuses, with a coded error naming the rollout, while one is under way (ROLLOUT_IN_PROGRESS) or
 * while one a killed keyhold left is unfinished (ROLLOUT_INTERRUPTED: finishing it may roll back).
 * They refuse rather than wait: a rollout lasts as long as its units' restarts and settle times,
 * and a value written after it would change what the rollout had just made current.
 */

/** The rollout, in words: what, since when, how far; with the pid of the keyhold doing it if it is alive. */
function underWay(i: RolloutIntent, live: boolean): string {
  const what =
    i.phase === "rolling-back"
      ? `a rollback of ${i.name} to version ${i.from}`
      : `a rotation of ${i.name}${i.to === null ? "" : ` to version ${i.to}`} with restarts`;
  const pid = live ? `keyhold pid ${parseProcessTag(i.owner)?.pid ?? "?"}, ` : "";
  return `${what} (${pid}started ${i.started}; ${i.moved.length} of ${i.units.length} units moved)`;
}

/** Refuses while a rollout of NAME is under way or left unfinished; its own writes pass. */
export function assertNoRollout(l: StoreLayout, name: string, op: string): void {
  if (!holdsRolloutLock(l, name)) refuseIfRecorded(l, name, op);
}

function refuseIfRecorded(l: StoreLayout, name: string, op: string): void {
  const intent = parseIntent(readBoundedFile(intentFile(l, { name }), INTENT_MAX));
  if (intent === undefined) return;
  if (ownerAlive(intent))
    throw new KeyholdError(
      "ROLLOUT_IN_PROGRESS",
      `${op} ${name} refused: ${underWay(intent, true)} is under way`,
      {
        hint: `wait for it to finish, then ${op} again`,
      },
    );
  throw new KeyholdError(
    "ROLLOUT_INTERRUPTED",
    `${op} ${name} refused: ${underWay(intent, false)} was interrupted and is unfinished`,
    { hint: `finish it first: sudo keyhold doctor --fix, or sudo keyhold rotate ${name} --restart` },
  );
}

/** Runs `work` (a write of NAME) under NAME's rollout lock, refusing as assertNoRollout does. */
export async function outsideRollout<T>(
  l: StoreLayout,
  name: string,
  op: string,
  work: () => Promise<T>,
): Promise<T> {
  if (holdsRolloutLock(l, name)) return work();
  // Bad input changes nothing: no rollouts directory for a name or a store that is refused.
  assertCredentialName(name);
  assertStoreUsable(l);
  refuseIfRecorded(l, name, op);
  let lock: Awaited<ReturnType<typeof lockRollout>>;
  try {
    lock = await lockRollout(l, { name });
  } catch (err) {
    // Held for more than the lock's wait: a rollout that has not written its record yet, or
    // another write of NAME that is slow. Say which if the record is there by now.
    if (!isKeyholdError(err, "ROLLOUT_IN_PROGRESS")) throw err;
    refuseIfRecorded(l, name, op);
    throw new KeyholdError(
      "ROLLOUT_IN_PROGRESS",
      `${op} ${name} refused: another keyhold is changing ${name}`,
      {
        hint: `wait for it to finish, then ${op} again`,
      },
    );
  }
  try {
    refuseIfRecorded(l, name, op);
    return await work();
  } finally {
    lock.release();
  }
}
