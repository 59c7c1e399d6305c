import { realpathSync } from "node:fs";
import { join } from "node:path";
import { assertUserCredential, exists, resolveNotAfter, type StoreLayout } from "../credstore/index.js";
import { writeFileAtomic } from "../durable/index.js";
import { KeyholdError } from "../secret/index.js";
import { assertCredentialName, type UnitFile } from "../systemd/index.js";
import { renderCredentialRotationTimer, rotationSpan } from "../units/index.js";
import { thisInstallation } from "./units.js";
import { valueCommandWords } from "./value-command.js";

/*
 * `keyhold rotate NAME --render-timer --every SPAN --from-command CMD [--restart …]`: the units that
 * rotate one credential of the store on schedule, from its provider's command. Rendering checks
 * everything the service would meet at its first run (the name, the credential, the command) and
 * refuses before anything is written.
 */

/**
 * The keyhold the service runs when --exec is not given: this one, by the real paths of the node
 * running it and of its bin/keyhold.js (as `keyhold unit` does for the job server), so the unit
 * names a program that exists rather than a conventional path that may not.
 */
export function thisKeyhold(): string {
  return `${realpathSync(process.execPath)} ${realpathSync(join(thisInstallation(), "bin", "keyhold.js"))}`;
}

export interface CredentialRotationRequest {
  name: string;
  every: string;
  command: string;
  restart?: { settleS?: number; timeoutS?: number; rollback: boolean };
  /** Passed on to each rotation: a span such as +45d is counted from that rotation. */
  notAfter?: string;
  keepNewline?: boolean;
  /** The keyhold command (default: thisKeyhold()). */
  exec?: string;
}

/** The service and timer for `request`, after checking that the service could rotate NAME. */
export function credentialRotationTimerUnits(l: StoreLayout, request: CredentialRotationRequest): UnitFile[] {
  const { name } = request;
  assertCredentialName(name);
  assertUserCredential(l, name, "rotate");
  if (request.notAfter !== undefined) {
    if (!request.notAfter.trim().startsWith("+"))
      throw new KeyholdError("USAGE", "with --render-timer, --not-after must be a span such as +45d", {
        hint: "a fixed time would be in the past after a few rotations",
      });
    resolveNotAfter(request.notAfter);
  }
  valueCommandWords(request.command);
  rotationSpan("--every", request.every);
  if (!exists(l, name))
    throw new KeyholdError("CREDENTIAL_NOT_FOUND", `credential not found: ${name}`, {
      hint: `the timer rotates an existing credential: create it first with sudo keyhold set ${name}`,
    });
  return renderCredentialRotationTimer({
    exec: request.exec ?? thisKeyhold(),
    store: l.store,
    state: l.state,
    name,
    every: request.every,
    command: request.command,
    ...(request.restart === undefined ? {} : { restart: request.restart }),
    rotateOptions: [
      ...(l.withKey === undefined ? [] : ["--with-key", l.withKey]),
      ...(request.notAfter === undefined ? [] : ["--not-after", request.notAfter.trim()]),
      ...(request.keepNewline ? ["--keep-newline"] : []),
    ],
  });
}

/** Writes rendered units into `dir` (mode 0644, each atomically); returns them. */
export function writeUnitFiles(dir: string, files: UnitFile[]): UnitFile[] {
  for (const f of files) writeFileAtomic(join(dir, f.path), f.content, { mode: 0o644 });
  return files;
}
