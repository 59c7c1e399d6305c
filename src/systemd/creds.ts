import { Secret, SecretError } from "../secret/index.js";
import { assertCredentialName, assertCredentialValueSize } from "./names.js";
import { runTool, runToolSync, startTool, systemTool, type ToolResult } from "./process.js";

/** Which key systemd-creds seals with. "auto" picks host+tpm2 when a TPM2 is present. */
export type WithKey = "auto" | "host" | "tpm2" | "host+tpm2";

export interface CredsOptions {
  /** The systemd-creds binary; tests and unusual installs may override it. */
  binary?: string;
  /** Environment for systemd-creds (tests set SYSTEMD_CREDENTIAL_SECRET to a throwaway host key). */
  env?: NodeJS.ProcessEnv;
}

export interface EncryptOptions extends CredsOptions {
  withKey?: WithKey;
  /** Passed to --not-after: an absolute timestamp or a relative one such as "+30d". */
  notAfter?: string;
}

// Lines systemd-creds prints that are warnings, not the reason for a failure.
const NOISE = [/is not located on encrypted media, using anyway/];

function reasonOf(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !NOISE.some((re) => re.test(l)));
  return lines.at(-1)?.replace(/\.$/, "") ?? "no reason given";
}

function failure(op: "encrypt" | "decrypt", name: string, result: ToolResult): SecretError {
  const reason = reasonOf(result.stderr);
  if (/does not match filename|Embedded credential name/.test(reason)) {
    return new SecretError(
      "NAME_MISMATCH",
      `credential ${name}: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}`,
      {
        hint: "the name inside a credential must equal the name it is loaded under; re-encrypt it with keyhold rotate",
      },
    );
  }
  if (/time passed/.test(reason)) {
    return new SecretError("EXPIRED", `credential ${name} has expired (its not-after time has passed)`, {
      hint: `set a new value with: keyhold rotate ${name}`,
    });
  }
  if (/Permission denied|Operation not permitted/.test(reason) && process.getuid?.() !== 0) {
    return new SecretError(
      "NOT_ROOT",
      `cannot ${op} credential ${name}: the host credential key is readable by root only`,
      {
        hint: "run this command with sudo",
      },
    );
  }
  if (/credential (host secret|key)/i.test(reason)) {
    // Ciphertext reaches systemd-creds on stdin, so a missing file here is the host key itself.
    return new SecretError(
      op === "encrypt" ? "ENCRYPT_FAILED" : "DECRYPT_FAILED",
      `cannot ${op} credential ${name}: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}`,
      {
        hint: "the host credential key (/var/lib/systemd/credential.secret, or SYSTEMD_CREDENTIAL_SECRET) is missing or unreadable; a credential made on another host cannot be decrypted here",
      },
    );
  }
  if (
    op === "decrypt" &&
    /Decryption failed|incorrect key|Bad message|Invalid argument|too short|Unknown encryption format|corrupted/i.test(
      reason,
    )
  ) {
    return new SecretError(
      "DECRYPT_FAILED",
      `cannot decrypt credential ${name}: wrong key, or a truncated or tampered ciphertext`,
      {
        hint: "credentials decrypt only on the host (and TPM) that encrypted them",
      },
    );
  }
  const code = op === "encrypt" ? "ENCRYPT_FAILED" : "DECRYPT_FAILED";
  return new SecretError(code, `systemd-creds could not ${op} credential ${name}: ${reason}`);
}

function missingTool(err: unknown, binary: string): never {
  if ((err as NodeJS.ErrnoException).code === "ENOENT") {
    throw new SecretError("SYSTEMD_CREDS_MISSING", `${binary} not found`, {
      hint: "keyhold needs systemd 250 or later (package systemd)",
      cause: err,
    });
  }
  throw err;
}

let tpm2Present: boolean | undefined;

/** Whether a usable TPM2 is present (`systemd-creds has-tpm2`), asked once per process. */
export async function hasTpm2(options: CredsOptions = {}): Promise<boolean> {
  if (tpm2Present === undefined) {
    const binary = options.binary ?? systemTool("systemd-creds");
    const result = await runTool(binary, ["has-tpm2", "--quiet"], { env: options.env }).catch((e) =>
      missingTool(e, binary),
    );
    tpm2Present = result.code === 0;
  }
  return tpm2Present;
}

/**
 * keyhold's default key choice: systemd's "auto" when a TPM2 is present; plain "host" otherwise,
 * because "auto" refuses to work when the host key lives on a temporary file system (containers).
 */
export async function defaultWithKey(options: CredsOptions = {}): Promise<WithKey> {
  return (await hasTpm2(options)) ? "auto" : "host";
}

/**
 * Encrypts `value` as credential `name` and returns the ciphertext (base64 text as systemd writes
 * it). The value goes through stdin; the embedded name is always `name`, so the file must be
 * stored under that name (a rotation that encrypts without --name, and so breaks the unit, cannot happen here).
 * The caller writes the file: systemd-creds would create it with the caller's umask.
 */
export async function encryptCredential(
  name: string,
  value: Uint8Array,
  options: EncryptOptions = {},
): Promise<Buffer> {
  assertCredentialName(name);
  assertCredentialValueSize(name, value.length);
  const withKey = options.withKey ?? (await defaultWithKey(options));
  return startEncryptCredential(name, { ...options, withKey }).encrypt(value);
}

/** An encrypt already running, waiting for its value (startEncryptCredential). */
export interface StartedEncrypt {
  /** Gives it `value` (through stdin) and returns the ciphertext, as encryptCredential does. Once only. */
  encrypt(value: Uint8Array): Promise<Buffer>;
  /** Kills it, having given it nothing: it never encrypts anything. A no-op after encrypt(). */
  cancel(): void;
}

/**
 * Starts `systemd-creds encrypt` for credential `name` now, to be given its value later: its exec,
 * dynamic linking and start-up overlap the caller's work (an answer to a unit's request starts it
 * while it checks the request). systemd-creds reads all of its input before it loads a key or
 * encrypts, so until encrypt() it only waits; a caller that decides to give it nothing cancel()s
 * it. --not-after counts from now. `withKey` is explicit: choosing one may ask systemd-creds.
 */
export function startEncryptCredential(
  name: string,
  options: EncryptOptions & { withKey: WithKey; timeoutMs?: number },
): StartedEncrypt {
  assertCredentialName(name);
  const binary = options.binary ?? systemTool("systemd-creds");
  const args = ["encrypt", `--name=${name}`, `--with-key=${options.withKey}`];
  if (options.notAfter !== undefined) args.push(`--not-after=${options.notAfter}`);
  args.push("-", "-");
  const tool = startTool(binary, args, {
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  return {
    async encrypt(value) {
      try {
        assertCredentialValueSize(name, value.length);
      } catch (err) {
        tool.kill();
        throw err;
      }
      const result = await tool.finish(value).catch((e) => missingTool(e, binary));
      if (result.code !== 0) throw failure("encrypt", name, result);
      return result.stdout;
    },
    cancel: () => tool.kill(),
  };
}

export interface DecryptOptions extends CredsOptions {
  /** Passed to --timestamp: the time the not-after check is made against (default: now). */
  validAt?: string;
}

function decryptArgs(name: string, validAt?: string): string[] {
  return ["decrypt", `--name=${name}`, ...(validAt === undefined ? [] : [`--timestamp=${validAt}`]), "-", "-"];
}

/**
 * Decrypts a credential's ciphertext, checking that its embedded name is `name` (and its
 * not-after time). The plaintext comes back through a pipe and is handed over as a Secret.
 */
export async function decryptCredential(
  name: string,
  ciphertext: Uint8Array,
  options: DecryptOptions = {},
): Promise<Secret> {
  assertCredentialName(name);
  const binary = options.binary ?? systemTool("systemd-creds");
  const args = decryptArgs(name, options.validAt);
  const result = await runTool(binary, args, { input: ciphertext, env: options.env }).catch((e) =>
    missingTool(e, binary),
  );
  if (result.code !== 0) throw failure("decrypt", name, result);
  return Secret.fromBytes(result.stdout, { wipeSource: true });
}

export function decryptCredentialSync(
  name: string,
  ciphertext: Uint8Array,
  options: CredsOptions = {},
): Secret {
  assertCredentialName(name);
  const binary = options.binary ?? systemTool("systemd-creds");
  let result: ToolResult;
  try {
    result = runToolSync(binary, decryptArgs(name), { input: ciphertext, env: options.env });
  } catch (e) {
    missingTool(e, binary);
  }
  if (result.code !== 0) throw failure("decrypt", name, result);
  return Secret.fromBytes(result.stdout, { wipeSource: true });
}
