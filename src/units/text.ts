import { isAbsolute, posix } from "node:path";
import { SecretError } from "../secret/index.js";

/**
 * What every unit file keyhold renders is made of: its sections and header line, the paths a
 * unit may name, and the usage error of every refusal.
 */

export function usage(message: string, hint?: string): SecretError {
  return new SecretError("USAGE", message, hint === undefined ? {} : { hint });
}

/**
 * A path for BindPaths=, LoadCredentialEncrypted= or ExecStart=: absolute and already normal
 * (no "." or ".." parts, no repeated or trailing "/"), so what the unit names is what the user
 * meant; no blanks, quotes, ':', '%' or control characters, which systemd would read as syntax.
 */
export function assertUnitPath(path: string, what: string): void {
  const shown = JSON.stringify(path.slice(0, 120));
  if (!isAbsolute(path)) throw usage(`${what} must be an absolute path: ${shown}`);
  if (path.split("/").some((part) => part === "." || part === "..")) {
    throw usage(`${what} may not contain "." or ".." parts: ${shown}`);
  }
  if (posix.normalize(path) !== path || (path.length > 1 && path.endsWith("/"))) {
    throw usage(
      `${what} is not a normalised path: ${shown}`,
      `write it as ${posix.normalize(path).replace(/(.)\/$/, "$1")}`,
    );
  }
  if (/[\s"'\\:%;$\x00-\x1f\x7f]/.test(path)) {
    throw usage(`${what} contains a character systemd would read as syntax: ${shown}`);
  }
}

export function isUnitPath(path: string): boolean {
  try {
    assertUnitPath(path, "path");
    return true;
  } catch {
    return false;
  }
}

export function section(name: string, lines: readonly string[]): string {
  return [`[${name}]`, ...lines].join("\n");
}

export function unitText(sections: string[], renderedBy = "keyhold unit"): string {
  return `# Rendered by ${renderedBy}. docs/units.md explains every directive.\n${sections.join("\n\n")}\n`;
}
