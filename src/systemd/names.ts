import { SecretError } from "../secret/index.js";

export const CREDENTIAL_NAME_MAX = 255;
/** systemd refuses credentials larger than this (CREDENTIAL_SIZE_MAX). */
export const CREDENTIAL_SIZE_MAX = 1024 * 1024;

// systemd-creds writes the encrypted blob as base64 in lines of 79 characters, each with its
// newline: 80 bytes of file for every 79 characters, 4 characters for every 3 bytes of blob.
const BASE64_LINE = 79;
// What the blob adds to a value, with room to spare: the fixed header and IV (about 48 bytes),
// TPM2 sealing data with a signed-PCR public key (under 2 KiB), times and the embedded name (at
// most 255 bytes, padded) and the authentication tag (16 bytes).
const ENCRYPTION_OVERHEAD_MAX = 4096;

/**
 * The largest value keyhold encrypts: 772,505 bytes, so that its ciphertext file always stays
 * within CREDENTIAL_SIZE_MAX and can be read back (by keyhold, and by systemd for
 * LoadCredentialEncrypted=). A 1 MiB value would encrypt to about 1.35 MiB that nothing loads.
 */
export const CREDENTIAL_VALUE_MAX =
  Math.floor((CREDENTIAL_SIZE_MAX * BASE64_LINE) / (BASE64_LINE + 1) / 4) * 3 - ENCRYPTION_OVERHEAD_MAX;

/** Throws EMPTY_VALUE or TOO_LARGE unless a value of `length` bytes can be stored as `name`. */
export function assertCredentialValueSize(name: string, length: number): void {
  if (length === 0) throw new SecretError("EMPTY_VALUE", `refusing to store an empty value for ${name}`);
  if (length > CREDENTIAL_VALUE_MAX) {
    throw new SecretError(
      "TOO_LARGE",
      `value for ${name} is ${length} bytes; a credential value may be at most ${CREDENTIAL_VALUE_MAX} bytes`,
      {
        hint: "its ciphertext must fit the 1 MiB that systemd loads; keep larger data in a file the credential points to",
      },
    );
  }
}

/**
 * The rule of systemd's credential_name_valid(): a valid file name (not empty, not "." or "..",
 * no "/", at most NAME_MAX bytes) that is also a valid fd name (every byte printable ASCII
 * 0x20-0x7E, no ":"). Returns the reason a name is invalid, or undefined.
 */
export function credentialNameProblem(name: string): string | undefined {
  if (name.length === 0) return "name is empty";
  if (name === "." || name === "..") return `"${name}" is not a valid name`;
  if (Buffer.byteLength(name, "utf8") > CREDENTIAL_NAME_MAX)
    return `name is longer than ${CREDENTIAL_NAME_MAX} bytes`;
  for (const ch of name) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 || c > 0x7e) return "name may contain only printable ASCII characters";
    if (ch === "/") return 'name may not contain "/"';
    if (ch === ":") return 'name may not contain ":"';
  }
  return undefined;
}

/** Throws INVALID_NAME unless `name` is a credential name systemd accepts. */
export function assertCredentialName(name: string): void {
  const problem = credentialNameProblem(name);
  if (problem !== undefined) {
    // The name is user input, not a value: quoting it helps, but keep it printable and short.
    const shown = JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
    throw new SecretError("INVALID_NAME", `invalid credential name ${shown}: ${problem}`, {
      hint: "use 1-255 printable ASCII characters without '/' or ':'",
    });
  }
}
