import { mkdirSync, readFileSync, rmdirSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../durable/index.js";
import { isSecretError, SecretError, wipe } from "../secret/index.js";
import { type AnalyzeOptions, assertUnitsVerify } from "./analyze.js";
import { decryptCredential } from "./creds.js";

/** One file of a unit, as installUnits writes it. */
export interface UnitFile {
  /** Path relative to the unit directory (/etc/systemd/system). */
  path: string;
  content: string;
}

/** One credential a unit loads: `LoadCredentialEncrypted=id:path`. */
export interface UnitCredential {
  /** The name the service sees in $CREDENTIALS_DIRECTORY; must equal the embedded name. */
  id: string;
  /** Absolute path of the encrypted file. */
  path: string;
}

export interface NameCheck {
  id: string;
  path: string;
  /**
   * ok: the file decrypts under ID (so its embedded name is ID and it is not expired);
   * missing: no such file yet (the unit fails with 243/CREDENTIALS until it exists);
   * unchecked: the file cannot be decrypted by this caller (not root).
   */
  status: "ok" | "missing" | "unchecked";
}

function embeddedNameFrom(err: SecretError): string | undefined {
  return /embedded credential name '([^']*)'/i.exec(err.message)?.[1];
}

/**
 * Checks every credential a unit will load against its file: systemd refuses to start a service
 * whose `LoadCredentialEncrypted=ID:PATH` names a file encrypted under another name (a file
 * encrypted as `my_app_key` loaded as `my_key`), and says only "Protocol error". Decrypting with --name=ID finds that
 * before the unit is installed; the value is wiped at once.
 */
export async function checkCredentialNames(
  credentials: readonly UnitCredential[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<NameCheck[]> {
  const checks: NameCheck[] = [];
  for (const c of credentials) {
    let ciphertext: Buffer;
    try {
      ciphertext = readFileSync(c.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") checks.push({ id: c.id, path: c.path, status: "missing" });
      else if (code === "EACCES") checks.push({ id: c.id, path: c.path, status: "unchecked" });
      else
        throw new SecretError("IO_ERROR", `cannot read credential file ${c.path}: ${code ?? "error"}`, {
          cause: err,
        });
      continue;
    }
    try {
      const secret = await decryptCredential(c.id, ciphertext, { env: options.env });
      secret.dispose();
      checks.push({ id: c.id, path: c.path, status: "ok" });
    } catch (err) {
      if (isSecretError(err, "NOT_ROOT")) {
        checks.push({ id: c.id, path: c.path, status: "unchecked" });
        continue;
      }
      if (isSecretError(err, "NAME_MISMATCH")) {
        const embedded = embeddedNameFrom(err);
        const shown = embedded === undefined ? "another name" : `the name ${embedded}`;
        throw new SecretError(
          "NAME_MISMATCH",
          `credential ${c.id}: the file ${c.path} was encrypted under ${shown}, so systemd would refuse to load it as ${c.id} (243/CREDENTIALS)`,
          {
            hint:
              embedded === undefined
                ? `re-encrypt the value under ${c.id}`
                : `load it under its own name (--cred ${embedded}:${c.path}) or re-encrypt the value as ${c.id}`,
            cause: err,
          },
        );
      }
      throw err;
    } finally {
      wipe(ciphertext);
    }
  }
  return checks;
}

/** File system errors as coded one-line errors; keyhold's own errors pass through. */
function asInstallError(err: unknown, directory: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (err instanceof SecretError || code === undefined) return err;
  if ((code === "EACCES" || code === "EPERM") && process.getuid?.() !== 0) {
    return new SecretError("NOT_ROOT", `cannot write units to ${directory}: permission denied`, {
      hint: "run keyhold unit --install with sudo, or --root DIR for a directory you own",
      cause: err,
    });
  }
  return new SecretError("IO_ERROR", `cannot write units to ${directory}: ${code}`, { cause: err });
}

export interface InstallOptions extends AnalyzeOptions {
  /** Root of the file system to install into; units go to <root>/etc/systemd/system. Default "/". */
  root?: string;
  /** Replace unit files that exist with other content. */
  force?: boolean;
  /** Run systemd-analyze verify after writing (default true). */
  verify?: boolean;
}

export interface InstalledUnits {
  directory: string;
  /** Absolute paths written (or already identical). */
  paths: string[];
}

/**
 * Writes rendered units atomically (mode 0644) into <root>/etc/systemd/system and verifies them.
 * All or nothing: existing files with other content are refused before anything is written
 * (UNIT_EXISTS, unless force), and when verify fails every file is put back as it was.
 */
export async function installUnits(
  rendered: { files: readonly UnitFile[]; primary: string },
  options: InstallOptions = {},
): Promise<InstalledUnits> {
  const directory = join(options.root ?? "/", "etc/systemd/system");
  const plan = rendered.files.map((f) => {
    const path = join(directory, f.path);
    let previous: Buffer | undefined;
    try {
      previous = readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw asInstallError(err, directory);
    }
    return { path, content: f.content, previous };
  });
  for (const p of plan) {
    if (p.previous !== undefined && p.previous.toString("utf8") !== p.content && !options.force) {
      throw new SecretError("UNIT_EXISTS", `${p.path} exists with other content`, {
        hint: "compare it with the rendered unit (keyhold unit without --install) and use --force to replace it",
      });
    }
  }

  const createdDirs: string[] = [];
  const written: typeof plan = [];
  const undo = () => {
    for (const p of written.reverse()) {
      try {
        if (p.previous === undefined) unlinkSync(p.path);
        else writeFileAtomic(p.path, p.previous, { mode: 0o644 });
      } catch {
        // best effort: the error that made us undo is the one to report
      }
    }
    for (const d of createdDirs.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // not empty or gone
      }
    }
  };
  try {
    for (const p of plan) {
      const made = mkdirSync(dirname(p.path), { recursive: true, mode: 0o755 });
      if (made !== undefined) {
        // mkdirSync returns the first directory it created; remember every level down to ours.
        for (let d = dirname(p.path); d.length >= made.length; d = dirname(d)) createdDirs.unshift(d);
      }
      if (p.previous?.toString("utf8") === p.content) continue;
      written.push(p);
      writeFileAtomic(p.path, p.content, { mode: 0o644 });
    }
    if (options.verify ?? true) {
      // A drop-in is verified through the service it extends (found on the unit path); whole
      // units (a vault answering socket beside a drop-in, for one) by their files.
      const whole = plan.filter((p) => !p.path.includes(".d/")).map((p) => p.path);
      if (whole.length < plan.length)
        await assertUnitsVerify([rendered.primary, ...whole], { ...options, unitPath: [directory] });
      else await assertUnitsVerify(whole, options);
    }
  } catch (err) {
    undo();
    throw asInstallError(err, directory);
  }
  return { directory, paths: plan.map((p) => p.path) };
}
