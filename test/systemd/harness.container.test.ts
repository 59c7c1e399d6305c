import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { bootContainer, containerSupport, janitor } from "../harness/index.js";

/**
 * The harness itself: a stopped container leaves nothing behind, and the janitor recovers what a
 * killed test runner left — including a container whose nspawn was killed with -9 and whose systemd
 * therefore kept running.
 */

const CGROUPS = ["/sys/fs/cgroup/unified/nspawn-test", "/sys/fs/cgroup/systemd/nspawn-test"];
const HARNESS = fileURLToPath(new URL("../harness/index.js", import.meta.url));

function leftovers(name: string): string[] {
  return [...CGROUPS.map((r) => join(r, name)), `/run/systemd/nspawn/propagate/${name}`].filter((p) =>
    existsSync(p),
  );
}

function skipUnlessSupported(t: { skip: (m: string) => void }): boolean {
  const support = containerSupport();
  if (!support.ok && process.env.KEYHOLD_REQUIRE_CONTAINER === "1")
    throw new Error(`container required: ${support.reason}`);
  if (!support.ok) t.skip(support.reason);
  return support.ok;
}

test("a container runs commands as root and as users, and leaves nothing behind when stopped", async (t) => {
  if (!skipUnlessSupported(t)) return;
  const c = await bootContainer({ label: "harness" });
  try {
    assert.equal((await c.check(["systemctl", "is-system-running"])).stdout.trim(), "running");
    assert.equal((await c.run(["id", "-u"])).stdout.trim(), "0");
    await c.addUser("dev");
    const asDev = await c.runAsUser("dev", ["sh", "-c", "id -un; echo $HOME; cat"], { input: "from stdin" });
    assert.deepEqual(asDev.stdout.split("\n"), ["dev", "/home/dev", "from stdin"]);
    const env = await c.run(["env"]);
    assert.ok(!env.stdout.includes("NODE_TEST_CONTEXT"), "the host's environment does not leak in");
    assert.equal((await c.run(["sh", "-c", "exit 3"])).code, 3);
    assert.ok(existsSync(c.hostPath("/opt/keyhold/bin/keyhold.js")), "the project is bound");
    assert.notEqual((await c.run(["touch", "/opt/keyhold/x"])).code, 0, "read-only");
  } finally {
    await c.stop();
  }
  assert.deepEqual(leftovers(c.name), []);
});

test("the janitor recovers a container whose test runner and nspawn were killed with -9", async (t) => {
  if (!skipUnlessSupported(t)) return;
  // A test runner that boots a container, reports it, and waits to be killed.
  const script = `import { bootContainer } from ${JSON.stringify(HARNESS)};
const c = await bootContainer({ label: "orphan" });
const nspawn = Number(readFileSync("/proc/" + c.leader + "/stat", "utf8").split(" ")[3]);
console.log(JSON.stringify({ name: c.name, leader: c.leader, nspawn }));
setInterval(() => {}, 1 << 30);`;
  const runner = spawn(
    process.execPath,
    ["--input-type=module", "-e", `import { readFileSync } from "node:fs";\n${script}`],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    runner.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(out.trim());
    });
    runner.on("exit", (code) => reject(new Error(`runner exited ${code} before booting`)));
  });
  const { name, leader, nspawn } = JSON.parse(line) as { name: string; leader: number; nspawn: number };
  // kill -9 of nspawn leaves the container's systemd running; then the runner dies too.
  process.kill(nspawn, "SIGKILL");
  process.kill(runner.pid ?? 0, "SIGKILL");
  await new Promise((r) => runner.once("exit", r));
  assert.ok(existsSync(`/proc/${leader}`), "the orphaned systemd is still running");
  assert.ok(leftovers(name).length > 0, "its cgroups are left behind");

  await janitor();
  for (let i = 0; i < 100 && existsSync(`/proc/${leader}`); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(!existsSync(`/proc/${leader}`), "the container was killed");
  assert.deepEqual(leftovers(name), []);
});
