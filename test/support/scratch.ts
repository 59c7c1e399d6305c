import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A throwaway world for one test: a store directory, a state directory and a host key of its
 * own (SYSTEMD_CREDENTIAL_SECRET), so tests never touch /etc, /var or the machine's key.
 */
export interface Scratch {
  root: string;
  store: string;
  state: string;
  /** Environment for systemd-creds and the keyhold CLI pointing at this scratch world. */
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

export function makeScratch(prefix = "keyhold-test-"): Scratch {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const store = join(root, "credstore.encrypted");
  const state = join(root, "state");
  mkdirSync(join(root, "host"), { mode: 0o700 });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    LANG: "C.UTF-8",
    SYSTEMD_CREDENTIAL_SECRET: join(root, "host", "credential.secret"),
    KEYHOLD_STORE: store,
    KEYHOLD_STATE: state,
  };
  return {
    root,
    store,
    state,
    env,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A value unique to one test, so a leak of it anywhere can be found by plain search. */
export function makeCanary(label = "canary"): string {
  return `kh-${label}-${randomBytes(18).toString("base64url")}`;
}
