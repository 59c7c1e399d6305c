import { statfsSync } from "node:fs";
import { type AuditLog, openStateAuditLog } from "../audit/index.js";
import type { StoreLayout } from "../credstore/index.js";
import { isKeyholdError, KeyholdError, type Secret } from "../secret/index.js";

/*
 * How every credential operation leaves its trace, whoever calls it (the CLI or a library
 * caller): one audit record per operation, and keyed fingerprints of stored values for the
 * leak scanner. Records carry names and codes, never values.
 */

type AuditDetail = Record<string, string | number | boolean>;

/**
 * Runs `work` as one audited operation: the audit log is opened first (so an operation that
 * cannot be recorded does not happen), then one record with the result is appended.
 */
export async function audited<T>(
  l: StoreLayout,
  op: string,
  name: string | undefined,
  work: (logged: Promise<AuditLog>) => Promise<T>,
  detail?: (result: T) => AuditDetail,
  options: { overlap?: boolean } = {},
): Promise<T> {
  const logged = openStateAuditLog(l.state, l.creds).then(async (log) => {
    await log.ensureWritable();
    assertRoomToRecord(l);
    return log;
  });
  // With `overlap`, work may start (decrypting, say) while the log opens, but must await
  // `logged` before its first irreversible step; without it, nothing starts before the log is open.
  if (!options.overlap) await logged;
  else logged.catch(() => undefined);
  try {
    const result = await work(logged);
    await (await logged).append({
      op,
      ...(name === undefined ? {} : { name }),
      result: "ok",
      ...(detail ? { detail: detail(result) } : {}),
    });
    return result;
  } catch (err) {
    const code = isKeyholdError(err) ? err.code : "INTERNAL";
    const log = await logged.catch(() => undefined);
    await log
      ?.append({ op, ...(name === undefined ? {} : { name }), result: "error", code })
      .catch(() => undefined);
    throw err;
  }
}

/** Free space an operation needs before it starts: its files and its audit record must fit. */
const ROOM_BYTES = 128 * 1024;
const ROOM_INODES = 32;

function assertRoomToRecord(l: StoreLayout): void {
  for (const dir of new Set([l.state, l.store])) {
    let free: number;
    try {
      const st = statfsSync(dir);
      free = Math.min(st.bavail * st.bsize, st.ffree >= ROOM_INODES ? Number.MAX_SAFE_INTEGER : 0);
    } catch {
      continue; // a missing directory is reported by the operation itself
    }
    if (free < ROOM_BYTES) {
      throw new KeyholdError(
        "IO_ERROR",
        `not enough free space or inodes on the file system of ${dir}; nothing was changed`,
        {
          hint: "free some space: keyhold refuses to start an operation it might not be able to finish and record",
        },
      );
    }
  }
}

/** Records keyed fingerprints of a stored value so `keyhold scan` can find it leaked. */
export async function fingerprint(l: StoreLayout, name: string, value: Secret): Promise<void> {
  // Loaded on demand: the scanner is not needed to run or read a credential.
  const { openFingerprintIndex } = await import("../scan/index.js");
  const index = await openFingerprintIndex(l.state, l.creds);
  await index.record(name, value, "credstore");
}
