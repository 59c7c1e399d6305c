import { SecretError } from "../secret/index.js";

export const CREDENTIAL_NAME_MAX = 255;
/** systemd refuses credentials larger than this (CREDENTIAL_SIZE_MAX). */
export const CREDENTIAL_SIZE_MAX = 1024 * 1024;

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
