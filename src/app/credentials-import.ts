import {
  assertStoreUsable,
  assertUserCredential,
  closeOpened,
  decryptStored,
  exists,
  openForShred,
  parseDotenv,
  readOpened,
  removeCredential,
  resolveNotAfter,
  type StoreLayout,
  shredOpened,
  type VersionMeta,
  writeVersion,
} from "../credstore/index.js";
import { readProtectedFile, secretFromText } from "../load/index.js";
import { KeyholdError, wipe } from "../secret/index.js";
import { assertCredentialName, assertCredentialValueSize, CREDENTIAL_SIZE_MAX } from "../systemd/index.js";
import { audited, fingerprint } from "./credentials-record.js";

/*
 * Migrating plaintext into the store: one file as one credential (`import`), or a .env file as
 * one credential per entry, all or nothing (`import-env`). With `shred`, the file is opened once
 * and overwritten through that same descriptor, so the bytes wiped are the bytes imported even
 * if the path is swapped in between.
 */

export interface ImportOptions {
  /** Overwrite and remove the file once the credential decrypts to the same bytes. */
  shred?: boolean;
  /** Refuse to decrypt after this time: a span such as +30d or an ISO 8601 time. */
  notAfter?: string;
  /** Keep a final newline (by default one is dropped). */
  keepNewline?: boolean;
}

export interface ImportedEntry {
  /** The variable as written in the file (OPENAI_API_KEY). */
  variable: string;
  /** The credential it is stored as (openai_api_key). */
  name: string;
  /** Already stored with this value before the import: counted as imported, not written again. */
  alreadyStored: boolean;
}

/** Reads a plaintext file being migrated: any owner or mode (that is why it is migrated), but no symlinks or devices. */
function readPlaintextFile(path: string): Buffer {
  return readProtectedFile(path, { permissions: "any", owners: "any" });
}

export async function importFile(
  l: StoreLayout,
  name: string,
  file: string,
  options: ImportOptions = {},
): Promise<VersionMeta> {
  assertCredentialName(name);
  if (options.notAfter !== undefined) resolveNotAfter(options.notAfter);
  assertStoreUsable(l);
  assertUserCredential(l, name, "import");
  if (exists(l, name)) {
    throw new KeyholdError("CREDENTIAL_EXISTS", `credential already exists: ${name}`, {
      hint: `use: sudo keyhold rotate ${name}`,
    });
  }
  const opened = options.shred ? openForShred(file) : undefined;
  let raw: Buffer;
  try {
    raw = opened ? readOpened(opened, CREDENTIAL_SIZE_MAX) : readPlaintextFile(file);
  } catch (err) {
    if (opened) closeOpened(opened);
    throw err;
  }
  const value = secretFromText(raw, options.keepNewline);
  try {
    if (value.byteLength === 0) throw new KeyholdError("EMPTY_VALUE", `${file} is empty; nothing to import`);
    assertCredentialValueSize(name, value.byteLength);
    const version = await audited(
      l,
      "import",
      name,
      async () => {
        const v = await writeVersion(l, name, value, {
          mustExist: false,
          origin: "import",
          ...(options.notAfter === undefined ? {} : { notAfter: options.notAfter }),
        });
        const back = await decryptStored(l, name);
        const same = back.verify(value);
        back.dispose();
        if (!same)
          throw new KeyholdError(
            "DECRYPT_FAILED",
            `credential ${name} did not decrypt to the imported bytes; ${file} was kept`,
          );
        if (opened) shredOpened(opened);
        return v;
      },
      (v) => ({ version: v.version, shredded: options.shred ?? false }),
    );
    await fingerprint(l, name, value);
    return version;
  } finally {
    value.dispose();
    if (opened) closeOpened(opened);
  }
}

export async function importEnv(
  l: StoreLayout,
  file: string,
  options: { shred?: boolean } = {},
): Promise<ImportedEntry[]> {
  assertStoreUsable(l);
  const opened = options.shred ? openForShred(file) : undefined;
  let entries: ReturnType<typeof parseDotenv>;
  try {
    const raw = opened ? readOpened(opened, CREDENTIAL_SIZE_MAX) : readPlaintextFile(file);
    try {
      entries = parseDotenv(file, raw.toString("utf8"));
    } finally {
      wipe(raw);
    }
  } catch (err) {
    if (opened) closeOpened(opened);
    throw err;
  }
  try {
    // Every value is checked before the first is written: the import is all or nothing.
    for (const e of entries) {
      assertUserCredential(l, e.name, "import-env");
      assertCredentialValueSize(e.name, e.value.byteLength);
    }
  } catch (err) {
    if (opened) closeOpened(opened);
    for (const e of entries) e.value.dispose();
    throw err;
  }
  const written: string[] = [];
  // Entries already stored with the same value count as imported, so running the same import
  // again — after it was interrupted, or in a provisioning script — finishes it instead of failing.
  const present = new Set<string>();
  try {
    const taken: string[] = [];
    for (const e of entries) {
      if (!exists(l, e.name)) continue;
      const current = await decryptStored(l, e.name);
      try {
        if (current.verify(e.value)) present.add(e.name);
        else taken.push(e.name);
      } finally {
        current.dispose();
      }
    }
    if (taken.length > 0) {
      throw new KeyholdError(
        "CREDENTIAL_EXISTS",
        `credentials already exist with other values: ${taken.join(", ")}; nothing was imported`,
        {
          hint: "rotate them one by one with keyhold rotate, or remove those lines",
        },
      );
    }
    const todo = entries.filter((e) => !present.has(e.name));
    await audited(
      l,
      "import-env",
      undefined,
      async () => {
        for (const e of todo) {
          await writeVersion(l, e.name, e.value, { mustExist: false, origin: "import-env" });
          written.push(e.name);
        }
      },
      () => ({ count: todo.length, alreadyStored: present.size }),
    );
    for (const e of todo) await fingerprint(l, e.name, e.value);
    if (opened) shredOpened(opened);
  } catch (err) {
    if (opened) closeOpened(opened);
    // All or nothing: remove what this run wrote before the failure.
    for (const name of written) await removeCredential(l, name).catch(() => undefined);
    throw err;
  } finally {
    for (const e of entries) e.value.dispose();
  }
  return entries.map((e) => ({ variable: e.variable, name: e.name, alreadyStored: present.has(e.name) }));
}
