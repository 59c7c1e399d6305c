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

/**
 * The shell command that makes `<project>/outputs` as docs/jobserver.md "Setup" does, run as
 * root: the developer's, shared with the socket group only (2770, setgid so what the jobs write
 * stays in the group), which the rendered unit makes the server's group.
 */
export function jobServerOutputsCommand(project: string, owner: string, group = "devs"): string[] {
  return ["install", "-d", "-o", owner, "-g", group, "-m", "2770", `${project}/outputs`];
}
