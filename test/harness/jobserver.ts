/**
 * The arguments of `keyhold unit keyhold-jobs --mode jobserver --group devs … --install` for a
 * project whose outputs/ the transient user writes and whose tree it reads (docs/jobserver.md
 * "Setup"), as the container tests and the job server benchmark install it; `extra` goes before
 * the binds (--cred, --vault, --exec, …).
 */
export function jobServerUnitArgs(project: string, ...extra: string[]): string[] {
  return [
    "unit",
    "keyhold-jobs",
    "--mode",
    "jobserver",
    "--group",
    "devs",
    ...extra,
    "--bind",
    `${project}/outputs`,
    "--bind-ro",
    project,
    "--install",
  ];
}
