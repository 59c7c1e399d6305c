import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { securityExposure, type UnitFile, verifyUnits } from "../../src/systemd/index.js";
import type { UnitOptions } from "../../src/units/index.js";

const SNAPSHOTS = fileURLToPath(new URL("../../../test/systemd/snapshots/", import.meta.url));

/**
 * Compares rendered files with the reviewed snapshots in test/systemd/snapshots/NAME/, regenerated
 * with UPDATE_SNAPSHOTS=1.
 */
export function assertMatchesSnapshot(name: string, files: readonly UnitFile[]): void {
  for (const file of files) {
    const snapshot = join(SNAPSHOTS, name, file.path.replaceAll("/", "__"));
    if (process.env.UPDATE_SNAPSHOTS === "1") {
      mkdirSync(join(SNAPSHOTS, name), { recursive: true });
      writeFileSync(snapshot, file.content);
    }
    assert.ok(
      existsSync(snapshot),
      `no snapshot ${snapshot}: review the output and run with UPDATE_SNAPSHOTS=1`,
    );
    assert.equal(file.content, readFileSync(snapshot, "utf8"), `${file.path} differs from ${snapshot}`);
  }
}

/** The cases whose full text is kept as a snapshot. */
/**
 * Writes rendered units into `dir` and asks the real systemd-analyze about them: verify's
 * messages (less those about executables the cases name but this machine lacks) and the first
 * unit's exposure.
 */
export async function analyzeRendered(
  dir: string,
  files: readonly UnitFile[],
): Promise<{ messages: string[]; exposure: number; rating: string }> {
  mkdirSync(dir, { recursive: true });
  const paths = files.map((f) => {
    const path = join(dir, f.path);
    writeFileSync(path, f.content);
    return path;
  });
  const verify = await verifyUnits(paths);
  const messages = verify.messages.filter((m) => !/is not executable|No such file or directory/.test(m));
  const report = await securityExposure(paths[0] as string);
  return { messages, exposure: report.exposure, rating: report.rating };
}

export const SNAPSHOT_CASES: Record<string, UnitOptions> = {
  standard: {
    service: "my-app",
    mode: "standard",
    exec: "/usr/bin/python3 /opt/my_service/main.py",
    credentials: ["my_api_key"],
  },
  isolated: {
    service: "my-app",
    mode: "isolated",
    exec: "/usr/bin/python3 /opt/my_service/main.py --port 8080",
    credentials: ["my_api_key"],
  },
  jobserver: {
    service: "keyhold-jobs",
    mode: "jobserver",
    group: "devs",
    credentials: ["my_api_key"],
    bindPaths: ["/home/dev/project/outputs", "/home/dev/project/logs"],
    bindReadOnlyPaths: ["/home/dev/project"],
    ipAllow: ["192.0.2.0/24"],
    keyholdRoot: "/opt/keyhold",
    config: "/etc/keyhold/jobs.json",
  },
  "jobserver-offline": {
    service: "keyhold-jobs",
    mode: "jobserver",
    group: "devs",
    credentials: ["my_api_key"],
    bindPaths: ["/srv/project/outputs"],
    bindReadOnlyPaths: ["/srv/project"],
    keyholdRoot: "/opt/keyhold",
    config: "/etc/keyhold/jobs.json",
  },
  "drop-in": { service: "postgresql", mode: "standard", dropIn: true, credentials: ["pg_password"] },
  "jobserver-vault": {
    service: "keyhold-jobs",
    mode: "jobserver",
    group: "devs",
    credentials: ["my_api_key"],
    vault: [
      { ns: "billing", name: "openai" },
      { ns: "billing", name: "stripe_key" },
    ],
    bindPaths: ["/srv/project/outputs"],
    bindReadOnlyPaths: ["/srv/project"],
    keyholdRoot: "/opt/keyhold",
    config: "/etc/keyhold/jobs.json",
  },
  "drop-in-vault": {
    service: "billing-api",
    mode: "isolated",
    dropIn: true,
    vault: [{ ns: "billing", name: "openai" }],
    vaultNetwork: true,
    keyholdRoot: "/opt/keyhold",
  },
};
