import type { DoctorFinding } from "../credstore/index.js";
import type { CredentialStore } from "./credentials.js";
import {
  credentialSubject,
  describeIntent,
  finishInterrupted,
  interruptedRollouts,
  type RolloutIntent,
} from "./rollout.js";
import { findCredentialUsers } from "./rollout-usage.js";

/** --fix finishing an interrupted rotation: the same waits as `rotate --restart`'s defaults. */
const FIX_SETTLE_MS = 5_000;
const FIX_TIMEOUT_MS = 90_000;

/** The command that finishes an interrupted rollout before its own. */
const resumeCommand = (i: RolloutIntent): string =>
  i.kind === "vault"
    ? `sudo keyhold vault put ${i.name} --restart`
    : `sudo keyhold rotate ${i.name} --restart`;

/**
 * doctor's findings about rotations: running units holding an earlier version of a credential
 * (stale), and rotations a killed keyhold left unfinished, which --fix finishes.
 */
export async function rolloutFindings(
  store: CredentialStore,
  options: { fix: boolean; report: (line: string) => void },
): Promise<DoctorFinding[]> {
  const findings: DoctorFinding[] = [];
  const l = store.layout;
  const interrupted = interruptedRollouts(l);
  if (options.fix && interrupted.length > 0) {
    // A vault secret's rollout needs the vault, opened as its answering units open it (no
    // passphrase: doctor asks for none).
    const subjectOf = async (intent: RolloutIntent) => {
      if (intent.kind !== "vault") return credentialSubject(store, intent.name);
      const { openVaultSubject } = await import("./vault-rollout.js");
      return openVaultSubject(l, intent.name);
    };
    const finished = await finishInterrupted(l, subjectOf, {
      settleMs: FIX_SETTLE_MS,
      timeoutMs: FIX_TIMEOUT_MS,
      rollback: true,
      report: options.report,
    });
    for (const { intent, result: r, error } of finished) {
      if (r === undefined) {
        findings.push({
          kind: "rollout-interrupted",
          subject: intent.name,
          message: describeIntent(intent),
          advice: `not finished: ${error instanceof Error ? error.message : "the vault could not be opened"}; run: ${resumeCommand(intent)}`,
        });
        continue;
      }
      findings.push({
        kind: "rollout-interrupted",
        subject: r.name,
        message: describeIntent(intent),
        fixed:
          r.outcome === "done"
            ? `completed: version ${r.current} is current and every running unit was restarted onto it`
            : r.outcome === "forgotten"
              ? `the new version never became current; ${r.name} is still version ${r.current}`
              : `rolled back to version ${r.current}${r.failed ? ` (${r.failed.unit}: ${r.failed.reason})` : ""}`,
      });
    }
  } else
    for (const intent of interrupted)
      findings.push({
        kind: "rollout-interrupted",
        subject: intent.name,
        message: describeIntent(intent),
        advice: `run: sudo keyhold doctor --fix, or ${resumeCommand(intent)} (finishes it first)`,
      });
  const { users } = await findCredentialUsers(store.layout);
  for (const [name, list] of users) {
    for (const u of list.filter((x) => x.holds === "stale"))
      findings.push({
        kind: "stale",
        subject: name,
        message: `${u.unit} holds an earlier version of ${name} (${u.basis})`,
        advice: `restart it: sudo systemctl restart ${u.unit}, or rotate with --restart next time`,
      });
  }
  return findings;
}

/** `keyhold doctor`: the store's own checks, then the rotations' (stale units, interrupted rollouts). */
export async function doctorWithRollouts(
  store: CredentialStore,
  options: { fix: boolean; unitDirs?: string[]; report: (line: string) => void },
): Promise<DoctorFinding[]> {
  const findings = await store.doctor({ fix: options.fix, unitDirs: options.unitDirs });
  findings.push(...(await rolloutFindings(store, { fix: options.fix, report: options.report })));
  return findings;
}
