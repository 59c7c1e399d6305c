import { SecretError } from "../secret/index.js";
import { quoted } from "../secret/printable.js";

/** A secret's address: namespace (a plugin or service) and name. */
export interface SecretRef {
  ns: string;
  name: string;
}

const PART = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

export function checkPart(part: string, what: "namespace" | "name"): string {
  if (typeof part !== "string" || !PART.test(part)) {
    const shown = typeof part === "string" && part.length <= 64 ? quoted(part) : "(not shown)";
    throw new SecretError("INVALID_NAME", `invalid vault ${what}: ${shown}`, {
      hint: "use 1-128 of A-Z a-z 0-9 _ . - (not starting with a dot)",
    });
  }
  return part;
}

/** Parses `ns/name`, refusing anything else before any key is touched. */
export function parseRef(ref: string | SecretRef): SecretRef {
  if (typeof ref === "object" && ref !== null)
    return { ns: checkPart(ref.ns, "namespace"), name: checkPart(ref.name, "name") };
  if (typeof ref !== "string") throw new SecretError("INVALID_NAME", "a vault secret is named ns/name");
  const slash = ref.indexOf("/");
  if (slash < 0) {
    throw new SecretError(
      "INVALID_NAME",
      `a vault secret is named ns/name: ${ref.length <= 64 ? quoted(ref) : "(not shown)"}`,
      {
        hint: "for example weather/api_key",
      },
    );
  }
  return { ns: checkPart(ref.slice(0, slash), "namespace"), name: checkPart(ref.slice(slash + 1), "name") };
}

export function refText(ref: SecretRef): string {
  return `${ref.ns}/${ref.name}`;
}

export const secretKey = (ref: SecretRef) => `secret/${ref.ns}/${ref.name}`;
export const dekKey = (ns: string) => `dek/${ns}`;

const RECORD_KEY = /^[A-Za-z0-9_./-]{1,300}$/;

/**
 * A record key for a message. Keys come from the store, which is untrusted: one shaped like the
 * keys keyhold writes is shown as it is, anything else quoted with its control characters escaped.
 */
export function keyText(key: string): string {
  return RECORD_KEY.test(key) ? key : quoted(key);
}
