import { loadJobServerConfig } from "../jobs/index.js";
import { isKeyholdError } from "../secret/index.js";
import { readBoundedFile, scanUnitFiles, UNIT_DIRS } from "../systemd/usage.js";
import { JOBSERVER_DEFAULT_CONFIG } from "../units/index.js";

/*
 * Which jobs of a job server receive a credential. A job server unit loads every credential its
 * jobs may use (LoadCredentialEncrypted=, as any unit) and hands each run only the ones its job
 * declares, so "keyhold-jobs.service uses api_key" says little; the job server's configuration says
 * which jobs will run with the new value once the server restarts.
 */

/** What a job server unit's configuration says of one credential. */
export interface JobsUsing {
  /** The configuration file read. */
  config: string;
  /** The jobs that declare the credential (by the name the unit loads it under). */
  jobs: string[];
}

/**
 * `keyhold serve`, as the renderer writes it (`… keyhold.js serve --config PATH`) or by hand
 * (`keyhold serve`, `--config=PATH`). The path is one word: the renderer refuses spaces in it.
 */
const SERVE = /(?:^|[\s/])keyhold(?:\.js)?\s+serve(?:\s+--config[=\s]+(\S+))?/;

/**
 * The job configuration a unit file's last ExecStart= runs `keyhold serve` with; null when its
 * last ExecStart= runs something else (a drop-in that replaces the command), undefined when the
 * file sets none (a drop-in that leaves it as it was).
 */
export function jobServerConfigOf(unitText: string): string | null | undefined {
  let config: string | null | undefined;
  for (const line of unitText.split("\n")) {
    const exec = /^\s*ExecStart\s*=\s*(.*)$/.exec(line);
    if (exec === null) continue;
    const serve = SERVE.exec(exec[1] as string);
    config = serve ? (serve[1] ?? JOBSERVER_DEFAULT_CONFIG) : null;
  }
  return config;
}

/**
 * For each unit of `units` that is a job server, the jobs that declare credential id `id`
 * (undefined for a unit that is not one). A configuration that does not load is named in `notes`:
 * the running server keeps the configuration it last loaded, which keyhold cannot see.
 */
export function jobsUsing(
  users: readonly { unit: string; id: string }[],
  options: { unitDirs?: readonly string[] } = {},
): { byUnit: Map<string, JobsUsing>; notes: string[] } {
  const byUnit = new Map<string, JobsUsing>();
  const notes: string[] = [];
  if (users.length === 0) return { byUnit, notes };
  const scan = scanUnitFiles(options.unitDirs ?? UNIT_DIRS);
  for (const user of users) {
    let config: string | null | undefined;
    for (const file of scan.usageOf(user.unit)?.files ?? []) {
      const set = jobServerConfigOf(readBoundedFile(file) ?? "");
      if (set !== undefined) config = set;
    }
    if (config === undefined || config === null) continue;
    try {
      const jobs = [...loadJobServerConfig(config).jobs.values()]
        .filter((job) => job.credentials.includes(user.id))
        .map((job) => job.name)
        .sort();
      byUnit.set(user.unit, { config, jobs });
    } catch (err) {
      notes.push(
        `${user.unit}: its job configuration ${config} does not load (${isKeyholdError(err) ? err.code : "unreadable"}): which jobs use ${user.id} is not known`,
      );
    }
  }
  return { byUnit, notes };
}
