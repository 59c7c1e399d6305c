/**
 * Test-only crash points. With KEYHOLD_TEST_CRASH_AT=STEP in keyhold's environment when it starts,
 * the process SIGKILLs itself on reaching the step named STEP; with KEYHOLD_TEST_PAUSE_AT=STEP it
 * SIGSTOPs itself there, so that a test can act while it is held and then SIGCONT it. They let the
 * kill -9 trials of `rotate --restart` and of an audit append (test/audit/durability.test.ts) land
 * on every step, every time, instead of racing a poller.
 *
 * Harmless outside tests: a crash point only sends SIGKILL or SIGSTOP to keyhold's own process,
 * and only for whoever sets keyhold's environment, who can send it those signals anyway (the same
 * user; sudo resets the environment unless told to keep it). It reads and writes nothing, so it
 * cannot reveal a value, skip a check or hold a lock longer than a stopped process would; the state
 * it leaves is exactly what a kill -9 at that step leaves, which is what recovery is built for. The
 * environment is read once, at start: nothing keyhold later puts into process.env arms it.
 */
const crashAt = process.env.KEYHOLD_TEST_CRASH_AT;
const pauseAt = process.env.KEYHOLD_TEST_PAUSE_AT;

export function crashPoint(step: string): void {
  if (crashAt !== undefined && crashAt === step) process.kill(process.pid, "SIGKILL");
  if (pauseAt !== undefined && pauseAt === step) process.kill(process.pid, "SIGSTOP");
}
