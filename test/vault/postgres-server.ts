import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A real, throwaway PostgreSQL server for the tests: initdb into a temporary directory as the
 * `postgres` OS user, listening only on a Unix socket inside that directory (no TCP), on a random
 * port number (it names the socket), stopped and removed by `stop()`.
 */
export interface TestPostgres {
  host: string;
  port: number;
  user: string;
  stop(): void;
}

const BIN_DIRS = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"];

function binary(name: string): string | undefined {
  for (const dir of BIN_DIRS) if (existsSync(join(dir, name))) return join(dir, name);
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** Starts a server, or returns the reason it cannot (for t.skip). */
export function startPostgres(): TestPostgres | string {
  const initdb = binary("initdb");
  const pgCtl = binary("pg_ctl");
  if (initdb === undefined || pgCtl === undefined)
    return "PostgreSQL server binaries (initdb, pg_ctl) are not installed";
  if (process.getuid?.() !== 0)
    return "starting a test PostgreSQL needs root (to run initdb as the postgres user)";
  const ids = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gids = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (ids.status !== 0) return "there is no postgres OS user";
  const root = mkdtempSync(join(tmpdir(), "keyhold-pg-"));
  chownSync(root, Number(ids.stdout.trim()), Number(gids.stdout.trim()));
  const data = join(root, "data");
  const asPostgres = (args: string[]) =>
    spawnSync("runuser", ["-u", "postgres", "--", ...args], { encoding: "utf8", timeout: 60_000 });
  const init = asPostgres([initdb, "-D", data, "--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  if (init.status !== 0) {
    rmSync(root, { recursive: true, force: true });
    return `initdb failed: ${init.stderr.slice(-300)}`;
  }
  const port = randomInt(20_000, 60_000);
  const options = `-c listen_addresses='' -c unix_socket_directories='${root}' -p ${port} -c fsync=on`;
  const start = asPostgres([
    pgCtl,
    "-D",
    data,
    "-o",
    options,
    "-l",
    join(root, "log"),
    "-w",
    "-t",
    "30",
    "start",
  ]);
  if (start.status !== 0) {
    rmSync(root, { recursive: true, force: true });
    return `PostgreSQL did not start: ${start.stderr.slice(-300)}`;
  }
  return {
    host: root,
    port,
    user: "postgres",
    stop() {
      asPostgres([pgCtl, "-D", data, "-m", "immediate", "-w", "stop"]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
