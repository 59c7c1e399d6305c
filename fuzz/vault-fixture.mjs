// A vault whose master key is a constant, for the vault fuzz target and its seed corpus. The
// master-key provider is not what is fuzzed (the file is), so it is the smallest one possible:
// at creation it overwrites the fresh master it is handed with the constant (the vault derives
// its keys only after create() returns), and it hands back a copy of the constant.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { FileBackend, initVault, openVault } from "../dist/src/vault/index.js";

const MASTER = Buffer.alloc(32, 0x42);

export const fixedMasterProvider = {
  kind: "systemd-credential",
  async create(_ctx, master) {
    master.set(MASTER);
    return {};
  },
  async candidates() {
    return [Buffer.from(MASTER)];
  },
  async stage() {
    return {};
  },
  async promote() {},
  async discard() {},
  async reauthenticate() {},
};

/** Secrets of the seed vault: plain words that appear nowhere else, so a leak is recognisable. */
export const SEED_SECRETS = [
  ["weather", "api_key", "fuzz-value-weather-7Q2Z"],
  ["weather", "api_key", "fuzz-value-weather-second-W8XK"],
  ["mail", "smtp_password", "fuzz-value-mail-J4RV"],
];

function options(dir) {
  const stateDir = join(dir, "state");
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  return {
    backend: new FileBackend({ dir: join(dir, "vault"), shred: false }),
    provider: fixedMasterProvider,
    stateDir,
  };
}

/** Creates the seed vault in `dir`/vault (every value of SEED_SECRETS put in order). */
export async function createSeedVault(dir) {
  const vault = await initVault(options(dir));
  for (const [ns, name, value] of SEED_SECRETS) await vault.put({ ns, name }, value);
  vault.close();
}

/** Opens the vault in `dir`/vault with a fresh state directory (no generation seen yet). */
export function openFixtureVault(dir) {
  return openVault(options(dir));
}
