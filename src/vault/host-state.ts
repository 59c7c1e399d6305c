import { join } from "node:path";
import {
  type HostState,
  historyError,
  hostId,
  readHostState,
  rememberHead,
  retiredMaster,
} from "./history.js";
import { AccessLimiter, lockoutFileName, type RateLimits } from "./limiter.js";

/*
 * What this host keeps of one store in its state directory (docs/vault-format.md section 7): the
 * generation and head it saw last, the masters it saw retired, its id in the store's audit seals,
 * and the plugins' lockouts. A vault handle touches the file system only through this (the files
 * themselves are read by host-file.ts, written by history.ts and limiter.ts).
 */

/** This host's memory of the store (docs/vault-format.md section 7). */
export function hostStatePath(stateDir: string, storeId: Buffer): string {
  return join(stateDir, `vault-${storeId.toString("hex")}.seen`);
}

export class HostMemory {
  /** The memory of the store's history: the file an administrator removes to accept a restored copy. */
  readonly seenPath: string;
  /** Rate limits and lockouts of the plugins on this host. */
  readonly lockouts: AccessLimiter;

  constructor(stateDir: string, storeId: Buffer, limits: Partial<RateLimits> | undefined, now: () => Date) {
    this.seenPath = hostStatePath(stateDir, storeId);
    this.lockouts = new AccessLimiter(join(stateDir, lockoutFileName(storeId.toString("hex"))), limits, () =>
      now().getTime(),
    );
  }

  /** What this host saw of the store last; undefined when it has seen nothing yet. */
  seen(): HostState | undefined {
    return readHostState(this.seenPath);
  }

  /** Remembers the head this host accepted (never moving back) and the masters the store retired. */
  async remember(generation: number, head: string | null, retired: readonly string[] = []): Promise<void> {
    await rememberHead(this.seenPath, generation, head, retired);
  }

  /** This host's id in the store's audit seals, made the first time it is needed. */
  hostId(): Promise<string> {
    return hostId(this.seenPath);
  }

  /**
   * Refuses a store that names the master `check` when this host saw it replaced by a rotation
   * (or `alsoRetired`, the retired masters of the store this handle already accepted): such a
   * store is a copy from before that rotation.
   */
  refuseRetired(check: string, alsoRetired: readonly string[] = []): void {
    const seen = this.seen();
    const verdict = retiredMaster(
      {
        generation: seen?.generation ?? 0,
        head: null,
        host: null,
        retired: [...(seen?.retired ?? []), ...alsoRetired],
      },
      check,
    );
    if (verdict !== undefined) throw historyError(verdict, this.seenPath);
  }
}
