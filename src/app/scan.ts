import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { openStateAuditLog } from "../audit/index.js";
import { decryptStored, resolveLayout } from "../credstore/index.js";
import {
  EMPTY_POLICY,
  type KnownValueSet,
  knownValueOf,
  loadPolicy,
  openFingerprintIndex,
  POLICY_FILE,
  readCommittedFile,
  SCAN_INDEX_FILE,
  type ScanPolicy,
  workTreeTop,
} from "../scan/index.js";
import { isKeyholdError } from "../secret/index.js";

/*
 * What `keyhold scan` needs besides the scanner itself: the stored values to look for (the
 * fingerprint index, or one credential for --value-of), the policy a push is judged by, and where
 * a scan's policy file lives.
 */

/**
 * Loads the stored values to look for. The index lives in the state directory and the scan
 * key is a systemd credential: without root (or the index), known-value detection is off and
 * the caller says why (`note`) rather than failing.
 */
export async function knownValues(
  state: string,
  env: NodeJS.ProcessEnv,
): Promise<{ known: KnownValueSet | undefined; note?: string }> {
  try {
    // No index (or no state directory) is nothing stored to look for; an index this user cannot
    // even see (root's 0700 state directory) is detection turned off, and said so.
    if (statSync(join(state, SCAN_INDEX_FILE), { throwIfNoEntry: false }) === undefined)
      return { known: undefined };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    if (code === "ENOTDIR") return { known: undefined };
    const why = `cannot read the index of stored values in ${state} (${code}); it is root's: run the scan as root, or pass --no-known-values`;
    return { known: undefined, note: why };
  }
  try {
    const index = await openFingerprintIndex(state, { env });
    return { known: await index.loadKnownValues() };
  } catch (err) {
    const why = isKeyholdError(err) ? `${err.message} [${err.code}]` : (err as Error).message;
    return { known: undefined, note: why };
  }
}

/**
 * The one credential `--value-of` looks for, as a known-value set under a key made for this scan
 * (src/scan/value-of.ts). The value is decrypted from the credstore (root), held only while the
 * set is built, and never printed; the read is audited like `keyhold get`.
 */
export async function credentialValue(
  env: NodeJS.ProcessEnv,
  name: string,
  stateOption: string | undefined,
): Promise<KnownValueSet> {
  const l = resolveLayout({ env, ...(stateOption === undefined ? {} : { state: stateOption }) });
  const log = await openStateAuditLog(l.state, l.creds);
  await log.ensureWritable();
  try {
    const value = await decryptStored(l, name);
    try {
      const known = knownValueOf(name, value);
      await log.append({ op: "scan.value-of", name, result: "ok" });
      return known;
    } finally {
      value.dispose();
    }
  } catch (err) {
    await log
      .append({
        op: "scan.value-of",
        name,
        result: "error",
        code: isKeyholdError(err) ? err.code : "INTERNAL",
      })
      .catch(() => undefined);
    throw err;
  }
}

/**
 * The policy a push is judged by: `.keyhold-scan.json` in the tree of the server's HEAD, as it
 * was before the push (pre-receive runs before any ref moves), so a push cannot allowlist or
 * accept its own key. Read through git (the bare repository has no work tree) into a private
 * temporary file that loadPolicy checks like any other.
 */
export async function pushPolicy(root: string, env: NodeJS.ProcessEnv): Promise<ScanPolicy> {
  const text = await readCommittedFile({ cwd: root, env }, POLICY_FILE, 16 * 1024 * 1024);
  if (text === undefined) return EMPTY_POLICY;
  const dir = mkdtempSync(join(tmpdir(), "keyhold-policy-"));
  try {
    const path = join(dir, POLICY_FILE);
    writeFileSync(path, text, { mode: 0o600 });
    return loadPolicy(path, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Where the policy file lives: the repository top, or the scanned directory outside git. */
export async function policyRoot(dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const base = statSync(dir, { throwIfNoEntry: false })?.isFile() ? dirname(dir) : dir;
  const top = await workTreeTop({ cwd: base, env }).catch(() => undefined);
  return top ?? base;
}
