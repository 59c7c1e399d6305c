import { chmodSync, chownSync, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { AUDIT_ANCHOR_FILE, AUDIT_KEY_NAME, AUDIT_LOG_FILE } from "../audit/key.js";
import { readProtectedFile } from "../load/index.js";
import { isSecretError } from "../secret/index.js";
import { CREDENTIAL_SIZE_MAX, decryptCredential, encryptCredential } from "../systemd/index.js";
import { parseProcessTag, processAlive, withLock, writeFileAtomic } from "../durable/index.js";
import { lockFile, type StoreLayout, storeFile, vaultDir } from "./layout.js";
import { type FileProblem, listCredentials } from "./listing.js";
import { vaultMasterName } from "./reserved.js";
import { readCiphertext, shredFile } from "./store.js";

export type FindingKind =
  | FileProblem
  | "store-missing"
  | "store-mode"
  | "state-mode"
  | "file-mode"
  | "unit-missing-credential"
  | "unit-name-mismatch"
  | "vault-master-missing"
  | "audit-key-missing"
  | "rollout-interrupted";

export interface DoctorFinding {
  kind: FindingKind;
  subject: string;
  message: string;
  /** What --fix did, or what the operator should do. */
  fixed?: string;
  advice?: string;
}

export interface DoctorOptions {
  fix?: boolean;
  /** Unit directories to check for LoadCredentialEncrypted= lines. Default /etc/systemd/system. */
  unitDirs?: string[];
  /** Called for every repair, for the audit log. */
  onFix?: (finding: DoctorFinding) => Promise<void> | void;
}

const isRoot = (): boolean => process.geteuid?.() === 0;

/** Whether the process that made a temporary file (.NAME.tmp-PID[.START]-…) still runs. */
function writerAlive(name: string): boolean {
  const writer = parseProcessTag(/\.tmp-([0-9.]+)-[0-9a-f]+$/.exec(name)?.[1] ?? "");
  return writer !== undefined && processAlive(writer.pid, writer.started);
}

function modeOf(path: string): { mode: number; uid: number; gid: number } | undefined {
  try {
    const st = statSync(path);
    return { mode: st.mode & 0o777, uid: st.uid, gid: st.gid };
  } catch {
    return undefined;
  }
}

function checkDirectory(path: string, kind: FindingKind, fix: boolean, findings: DoctorFinding[]): void {
  const st = modeOf(path);
  if (st === undefined) {
    findings.push({
      kind: "store-missing",
      subject: path,
      message: `${path} does not exist`,
      advice: "run: sudo keyhold init",
    });
    return;
  }
  const wrongOwner = isRoot() && (st.uid !== 0 || st.gid !== 0);
  if ((st.mode & 0o077) === 0 && !wrongOwner) return;
  const finding: DoctorFinding = {
    kind,
    subject: path,
    message: `${path} is mode 0${st.mode.toString(8)} owned by ${st.uid}:${st.gid}; expected 0700 root:root`,
  };
  if (fix) {
    if (wrongOwner) chownSync(path, 0, 0);
    chmodSync(path, 0o700);
    finding.fixed = "set to 0700 root:root";
  } else finding.advice = "run: sudo keyhold doctor --fix";
  findings.push(finding);
}

/**
 * LoadCredentialEncrypted=ID[:PATH] lines of every unit and drop-in under `dir` (top-level and
 * prefix drop-in directories included), read within the bounds `status` reads them in: no FIFO
 * or device is read, no file over 1 MiB, no directory past its entry limit.
 */
async function unitCredentialLines(dir: string): Promise<{ unit: string; id: string; path?: string }[]> {
  // Loaded here, not at the top: commands that never read unit files (run) do not load it.
  const { boundedEntries, readBoundedFile } = await import("../systemd/usage.js");
  const out: { unit: string; id: string; path?: string }[] = [];
  const files: string[] = [];
  for (const e of boundedEntries(dir).names) {
    const p = join(dir, e);
    if (/\.(service|socket|mount|swap)$/.test(e)) files.push(p);
    else if (e.endsWith(".d"))
      for (const f of boundedEntries(p).names) if (f.endsWith(".conf")) files.push(join(p, f));
  }
  for (const file of files) {
    const text = readBoundedFile(file);
    if (text === undefined) continue;
    for (const line of text.split("\n")) {
      const m = /^\s*LoadCredentialEncrypted\s*=\s*([^:\s]+)(?::(\S+))?\s*$/.exec(line);
      if (!m) continue;
      out.push({ unit: file, id: m[1] as string, ...(m[2] ? { path: m[2] } : {}) });
    }
  }
  return out;
}

async function checkUnits(l: StoreLayout, dirs: string[], findings: DoctorFinding[]): Promise<void> {
  for (const dir of dirs) {
    for (const ref of await unitCredentialLines(dir)) {
      const path = ref.path ?? storeFile(l, ref.id);
      if (modeOf(path) === undefined) {
        findings.push({
          kind: "unit-missing-credential",
          subject: ref.unit,
          message: `${ref.unit} loads credential ${ref.id} from ${path}, which does not exist`,
          advice: `create it with: sudo keyhold set ${ref.id}`,
        });
        continue;
      }
      try {
        const value = await decryptCredential(
          ref.id,
          readProtectedFile(path, { permissions: "any", owners: "any" }),
          l.creds,
        );
        value.dispose();
      } catch (err) {
        if (isSecretError(err, "NAME_MISMATCH")) {
          findings.push({
            kind: "unit-name-mismatch",
            subject: ref.unit,
            message: `${ref.unit} loads ${path} as ${ref.id}, but the credential's embedded name differs (the unit will fail with 243/CREDENTIALS)`,
            advice: `use LoadCredentialEncrypted=${embeddedNameOf(err.message) ?? "<embedded name>"}:${path}, or re-encrypt it under ${ref.id}`,
          });
        }
      }
    }
  }
}

function embeddedNameOf(message: string): string | undefined {
  return /embedded credential name '([^']*)'/i.exec(message)?.[1];
}

/** Re-encrypts a credential whose embedded name differs from its file name, under the file name. */
async function repairName(l: StoreLayout, name: string, embedded: string): Promise<void> {
  await withLock(lockFile(l), async () => {
    const value = await decryptCredential(embedded, readCiphertext(l, name), l.creds);
    try {
      const fixed = await encryptCredential(name, value.exposeBytes(), {
        ...l.creds,
        ...(l.withKey ? { withKey: l.withKey } : {}),
      });
      writeFileAtomic(storeFile(l, name), fixed, { mode: 0o600, ...(isRoot() ? { uid: 0, gid: 0 } : {}) });
    } finally {
      value.dispose();
    }
  });
}

function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/**
 * The keys keyhold keeps for itself, where something already depends on them: a vault whose
 * master credential is gone cannot be opened, and an audit log whose key is gone can be neither
 * verified nor extended. Neither can be repaired here: only a backup brings a key back.
 */
function checkOwnKeys(l: StoreLayout, findings: DoctorFinding[]): void {
  const master = vaultMasterName(l);
  if (master !== undefined && !existsSync(storeFile(l, master))) {
    findings.push({
      kind: "vault-master-missing",
      subject: master,
      message: `the vault in ${vaultDir(l)} keeps its master key as the credential ${storeFile(l, master)}, which does not exist: the vault cannot be opened`,
      advice: `restore ${storeFile(l, master)} from a backup, or take the master from another host of a shared vault: keyhold vault export-master there, keyhold vault init --join here`,
    });
  }
  const key = join(l.state, AUDIT_KEY_NAME);
  const log = join(l.state, AUDIT_LOG_FILE);
  const anchored = existsSync(join(l.state, AUDIT_ANCHOR_FILE));
  if (!existsSync(key) && ((fileSize(log) ?? 0) > 0 || anchored)) {
    findings.push({
      kind: "audit-key-missing",
      subject: key,
      message: `the audit log ${log} has no key: ${key} does not exist, so the log can be neither verified nor extended and audited commands refuse to run`,
      advice: `restore ${key} from a backup; a new key (keyhold init) cannot verify the records already written`,
    });
  }
}

/**
 * Audits the store and the host. Findings are facts with advice; `fix` repairs what is safe to
 * repair without a human: modes and owners, leftover temporary files, and embedded names (the
 * value is re-encrypted under the file name, never shown).
 */
export async function runDoctor(l: StoreLayout, options: DoctorOptions = {}): Promise<DoctorFinding[]> {
  const fix = options.fix ?? false;
  const findings: DoctorFinding[] = [];
  checkDirectory(l.store, "store-mode", fix, findings);
  if (findings.some((f) => f.kind === "store-missing")) return findings;
  checkDirectory(l.state, "state-mode", fix, findings);

  for (const entry of await listCredentials(l, { decryptCheck: true })) {
    const path = storeFile(l, entry.name);
    const subject = entry.name;
    switch (entry.status) {
      case "ok":
        break;
      case "perms-too-open": {
        const f: DoctorFinding = {
          kind: "file-mode",
          subject,
          message: `${path} is mode ${entry.mode} owned by ${entry.uid}:${entry.gid}; expected 0600 root:root`,
        };
        if (fix) {
          if (isRoot()) chownSync(path, 0, 0);
          chmodSync(path, 0o600);
          f.fixed = "set to 0600 root:root";
        } else f.advice = "run: sudo keyhold doctor --fix";
        findings.push(f);
        break;
      }
      case "name-mismatch": {
        const f: DoctorFinding = {
          kind: "name-mismatch",
          subject,
          message: `${path} holds a credential named '${entry.embeddedName ?? "?"}'; systemd will refuse to load it as ${entry.name}`,
        };
        if (fix && entry.embeddedName !== undefined) {
          await repairName(l, entry.name, entry.embeddedName);
          f.fixed = `re-encrypted under the name ${entry.name}`;
        } else f.advice = "run: sudo keyhold doctor --fix (re-encrypts it under its file name)";
        findings.push(f);
        break;
      }
      case "expired":
      case "expiring":
        findings.push({
          kind: entry.status,
          subject,
          message:
            entry.status === "expired"
              ? `credential ${entry.name} has expired${entry.notAfter ? ` (not after ${entry.notAfter})` : ""}`
              : `credential ${entry.name} expires at ${entry.notAfter}`,
          advice: `set a new value with: sudo keyhold rotate ${entry.name}`,
        });
        break;
      case "unknown-key-type":
        findings.push({
          kind: "unknown-key-type",
          subject,
          message: `${path} is an encrypted credential of a key type this keyhold does not know`,
          advice: "check it with systemd-creds decrypt; do not import or remove it",
        });
        break;
      case "plaintext":
        findings.push({
          kind: "plaintext",
          subject,
          message: `${path} is not encrypted: it looks like a plaintext value`,
          advice: `move it out of the store and encrypt it: sudo mv ${path} /root/${entry.name}.plain && sudo keyhold import ${entry.name} /root/${entry.name}.plain --shred; treat the value as exposed`,
        });
        break;
      case "too-large":
        findings.push({
          kind: "too-large",
          subject,
          message: `${path} is ${entry.fileSize} bytes; neither keyhold nor systemd reads a credential file over ${CREDENTIAL_SIZE_MAX} bytes`,
          advice: `move it out of the credential store, and store the value again with: sudo keyhold set ${entry.name} (values up to the limit keyhold set enforces always fit)`,
        });
        break;
      case "unreadable":
      case "decrypt-failed":
        findings.push({
          kind: entry.status,
          subject,
          message:
            entry.status === "unreadable"
              ? `${path} cannot be read`
              : `${path} does not decrypt on this host (wrong key, or a truncated or tampered ciphertext)`,
          advice:
            "check it with systemd-creds decrypt; move it out of the credential store if it is not needed",
        });
        break;
      case "not-a-credential":
      case "invalid-name":
        findings.push({
          kind: entry.status,
          subject,
          message:
            entry.status === "invalid-name"
              ? `${path}: the file name is not a valid credential name`
              : `${path} is not an encrypted credential`,
          advice: "move it out of the credential store",
        });
        break;
      case "symlink":
      case "not-a-file":
        // Reported, never repaired: --fix neither follows nor removes what it did not make.
        findings.push({
          kind: entry.status,
          subject,
          message:
            entry.status === "symlink"
              ? `${path} is a symbolic link; systemd's LoadCredentialEncrypted= would follow it`
              : `${path} is not a regular file (a directory, FIFO, socket or device)`,
          advice:
            "look at it with ls -l; if it is not yours, remove it by hand (rm, which does not follow a link)",
        });
        break;
      case "leftover-temp": {
        // A temporary file of a keyhold process that is still running is work in progress.
        if (writerAlive(entry.name)) break;
        const f: DoctorFinding = {
          kind: "leftover-temp",
          subject,
          message: `${path} is a temporary file left by an interrupted write`,
        };
        if (fix) {
          await withLock(lockFile(l), () => {
            if (!writerAlive(entry.name)) shredFile(path);
          });
          f.fixed = "overwritten and removed";
        } else f.advice = "run: sudo keyhold doctor --fix";
        findings.push(f);
        break;
      }
    }
  }
  checkOwnKeys(l, findings);
  await checkUnits(l, options.unitDirs ?? ["/etc/systemd/system"], findings);
  if (options.onFix) for (const f of findings) if (f.fixed) await options.onFix(f);
  return findings;
}
