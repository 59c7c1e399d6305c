import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  bootForSuite,
  type Container,
  type ContainerSuite,
  jobServerOutputsCommand,
  jobServerUnitArgs,
  needContainer,
  PROJECT_INSIDE,
} from "../harness/index.js";
import { makeCanary } from "../support/scratch.js";
import { SNOOP_SCRIPT, SNOOP_TRIES } from "./support.js";

/**
 * The manual job-server checklist as a script, against the real `keyhold serve` under the units that
 * `keyhold unit --mode jobserver` renders, inside a container running a real systemd: socket
 * activation, DynamicUser=, the sandbox, LoadCredentialEncrypted=, Restart= after kill -9, and
 * real users on both sides of the socket's group.
 */

// The compiled CLI, run through its module entry (the bundle under dist/cli may be older).
const CLI = "/srv/app/keyhold.mjs";
const CLI_SOURCE = `const { main } = await import("${PROJECT_INSIDE}/dist/src/cli/main.js");
process.exitCode = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
`;
const PROJECT = "/home/dev/project";
const JOB_SCRIPT = `#!/bin/sh
# A typical job: uses the key, writes a result to outputs, and (carelessly) prints the key.
set -e
key=$(cat "$CREDENTIALS_DIRECTORY/my_api_key")
echo "using key $key"
printf %s "$key" | base64 -w0; echo
printf %s "$key" | od -An -tx1 | tr -d ' \\n'; echo
printf 'sha256=%s\\n' "$(printf %s "$key" | sha256sum | cut -d' ' -f1)" > ${PROJECT}/outputs/result-$KEYHOLD_RUN_ID.txt
echo "wrote result-$KEYHOLD_RUN_ID.txt"
echo "fs: $(stat -f -c %T "$CREDENTIALS_DIRECTORY")"
`;
const CONFIG = {
  concurrency: 4,
  jobs: {
    report: {
      argv: [`${PROJECT}/src/job.sh`],
      cwd: PROJECT,
      credentials: ["my_api_key"],
      outputDir: `${PROJECT}/outputs`,
      timeoutSeconds: 60,
    },
    noop: { argv: ["/bin/true"], cwd: PROJECT, outputDir: `${PROJECT}/outputs` },
    slow: { argv: ["/bin/sleep", "5"], cwd: PROJECT, outputDir: `${PROJECT}/outputs` },
    // Jobs run in the socket's group (the unit's Group=): may one reach the socket itself?
    knock: {
      argv: [
        "/usr/bin/node",
        "-e",
        'require("node:net").connect("/run/keyhold/jobs.sock").on("connect", () => { console.log("connected"); process.exit(0); }).on("error", (e) => { console.log(e.code); process.exit(3); })',
      ],
      cwd: PROJECT,
      outputDir: `${PROJECT}/outputs`,
    },
    committed: {
      argv: ["/bin/sh", "src/hello.sh"],
      cwd: PROJECT,
      outputDir: `${PROJECT}/outputs`,
      codePolicy: "committed",
    },
    // A hostile job: what it may not reach is the server's (support.ts SNOOP_SCRIPT).
    snoop: {
      argv: ["/srv/app/snoop.sh"],
      cwd: PROJECT,
      credentials: ["my_api_key"],
      outputDir: `${PROJECT}/outputs`,
      params: {
        creds: { pattern: "/.*", env: "SERVER_CREDS" },
        state: { pattern: "/.*", env: "SERVER_STATE" },
        pid: { pattern: "[0-9]+", env: "SERVER_PID" },
      },
    },
    // Holds another credential while snoop runs.
    hold: {
      argv: ["/bin/sleep", "30.125"],
      cwd: PROJECT,
      credentials: ["other_key"],
      outputDir: `${PROJECT}/outputs`,
    },
    daemon: {
      argv: [
        "/bin/sh",
        "-c",
        `( setsid sh -c 'sleep 2.7182; echo late > ${PROJECT}/outputs/daemon-marker' & ); echo started`,
      ],
      cwd: PROJECT,
      outputDir: `${PROJECT}/outputs`,
    },
  },
};
// 1000 triggers from 20 concurrent clients, run inside as dev over the real socket.
const LOAD = "/srv/app/load.mjs";
const LOAD_SOURCE = `import { request } from "node:http";
const total = 1000, clients = 20;
let next = 0; const ids = []; const failures = [];
function follow() {
  return new Promise((resolve) => {
    const req = request({ socketPath: "/run/keyhold/jobs.sock", method: "POST", path: "/v1/jobs/noop/runs?follow=1" }, (res) => {
      let text = ""; res.setEncoding("utf8");
      res.on("data", (c) => { text += c; });
      res.on("end", () => {
        const lines = text.trim().split("\\n");
        const last = JSON.parse(lines[lines.length - 1] || "{}");
        if (res.statusCode !== 200 || last.event !== "finished" || last.run.state !== "succeeded") failures.push(res.statusCode + " " + (lines[lines.length - 1] || ""));
        else ids.push(last.run.id);
        resolve();
      });
    });
    req.on("error", (e) => { failures.push(e.code); resolve(); });
    req.end();
  });
}
async function client() { while (next < total) { next++; await follow(); } }
const t0 = Date.now();
await Promise.all(Array.from({ length: clients }, client));
process.stdout.write(JSON.stringify({ ids, failures, ms: Date.now() - t0 }));
`;

const canary = `${makeCanary("container")}+/=`;
const otherCanary = makeCanary("other");
const digest = createHash("sha256").update(canary).digest("hex");
let suite: ContainerSuite;

function forms(value: string): string[] {
  const b = Buffer.from(value);
  return [value, b.toString("base64"), b.toString("base64url"), b.toString("hex"), encodeURIComponent(value)];
}

function assertNoLeak(text: string, where: string): void {
  for (const f of forms(canary))
    assert.ok(!text.includes(f), `${where} holds the key (form ${f.slice(0, 6)}…)`);
}

async function mainPid(c: Container): Promise<string> {
  return c.unitProperty("keyhold-jobs.service", "MainPID");
}

before(async () => {
  suite = await bootForSuite({ label: "jobserver" });
  const c = suite.container;
  if (c === undefined) return;
  await c.addUser("dev", { groups: ["devs"] });
  await c.addUser("other");
  await c.check([
    "sh",
    "-c",
    `mkdir -p ${PROJECT}/src && chown -R dev:dev ${PROJECT} && chmod 0755 /home/dev`,
  ]);
  c.writeFile(`${PROJECT}/src/job.sh`, JOB_SCRIPT, { mode: 0o755 });
  c.writeFile(`${PROJECT}/src/hello.sh`, "echo hello from the committed tree\n");
  c.writeFile(`${PROJECT}/.gitignore`, "outputs/\n");
  await c.check(["chown", "-R", "dev:dev", PROJECT]);
  await c.check(jobServerOutputsCommand(PROJECT, "dev"));
  // The project is a git work tree owned by dev: the server (a transient user) must still read it.
  await c.sh(
    "git init -q && git add -A && git -c user.name=dev -c user.email=dev@example.org commit -qm first",
    { user: "dev", cwd: PROJECT },
  );
  c.writeFile(CLI, CLI_SOURCE);
  c.writeFile(LOAD, LOAD_SOURCE);
  c.writeFile("/etc/keyhold/jobs.json", `${JSON.stringify(CONFIG, null, 2)}\n`);
  c.writeFile("/srv/app/snoop.sh", SNOOP_SCRIPT, { mode: 0o755 });
  await c.encryptCredential("my_api_key", canary);
  await c.encryptCredential("other_key", otherCanary);
  // The host's own audit key (keyhold init): the job server must not be given it.
  await c.encryptCredential("keyhold.audit-key", randomBytes(32).toString("hex"), {
    file: "/var/lib/keyhold/keyhold.audit-key",
  });
  // A hostile .git: a clean filter for every file, run by whatever runs `git status` here.
  c.writeFile(
    "/srv/app/filter.sh",
    `#!/bin/sh\ncat /run/credentials/keyhold-jobs.service/* > ${PROJECT}/outputs/stolen-$$ 2>&1\ncat\n`,
    { mode: 0o755 },
  );
  await c.sh(
    "git config filter.x.clean /srv/app/filter.sh && git config filter.x.smudge /srv/app/filter.sh && echo '* filter=x' > .git/info/attributes",
    { user: "dev", cwd: PROJECT },
  );
});

after(async () => {
  await suite?.stop();
});

test("setup: keyhold unit --mode jobserver --install, then the socket", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const installed = await c.run([
    "/usr/bin/node",
    CLI,
    ...jobServerUnitArgs(PROJECT, "--cred", "my_api_key", "--cred", "other_key"),
  ]);
  assert.equal(installed.code, 0, installed.stderr);
  assert.match(
    installed.stdout,
    /^created the job server's audit key \/var\/lib\/keyhold\/keyhold-jobs\.audit-key$/m,
  );
  // The default ExecStart: the installed keyhold, as docs/jobserver.md sets it up.
  const unit = c.readFile("/etc/systemd/system/keyhold-jobs.service");
  assert.match(
    unit,
    new RegExp(
      `^ExecStart=/usr/bin/node ${PROJECT_INSIDE}/bin/keyhold\\.js serve --config /etc/keyhold/jobs\\.json$`,
      "m",
    ),
  );
  await c.check(["systemctl", "start", "keyhold-jobs.socket"]);
  assert.equal(
    (await c.check(["stat", "-c", "%A %G", "/run/keyhold/jobs.sock"])).stdout.trim(),
    "srw-rw---- devs",
  );
});

test("dev triggers the job: it uses the key, writes outputs dev can read, and the key is scrubbed from what dev sees", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const r = await c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "report", "--follow"]);
  assert.equal(r.code, 0, r.stderr + (await c.journal(["-u", "keyhold-jobs.service"])));
  assert.match(r.stdout, /^using key \[REDACTED:my_api_key\]$/m);
  assert.match(r.stdout, /^fs: (ramfs|tmpfs)$/m, "the run's credentials live in memory");
  assertNoLeak(r.stdout + r.stderr, "the trigger output");
  const file = /wrote (result-\S+\.txt)/.exec(r.stdout)?.[1];
  assert.ok(file, r.stdout);
  const result = await c.runAsUser("dev", ["cat", `${PROJECT}/outputs/${file}`]);
  assert.equal(result.stdout.trim(), `sha256=${digest}`, "the job held the real key");
  const logs = await c.runAsUser("dev", ["sh", "-c", `cat ${PROJECT}/outputs/logs/*.log`]);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /using key \[REDACTED:my_api_key\]/);
  assertNoLeak(logs.stdout, "the run logs");
  // The same through curl as dev.
  const viaCurl = await c.runAsUser("dev", [
    "curl",
    "-sS",
    "--unix-socket",
    "/run/keyhold/jobs.sock",
    "-X",
    "POST",
    "http://localhost/v1/jobs/report/runs?follow=1",
  ]);
  assert.equal(viaCurl.code, 0, viaCurl.stderr);
  assert.match(viaCurl.stdout, /"state":"succeeded"/);
  assertNoLeak(viaCurl.stdout, "the curl stream");
  const runs = await c.runAsUser("dev", ["/usr/bin/node", CLI, "runs", "--json"]);
  assert.equal(runs.code, 0, runs.stderr);
  const list = JSON.parse(runs.stdout) as { job: string; requester: { user: string; verified: boolean } }[];
  assert.ok(
    list.some((x) => x.job === "report" && x.requester.user === "dev" && x.requester.verified === false),
  );
});

test("dev can read neither the credential files nor the server's environment or memory; running the job directly fails", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const pid = await mainPid(c);
  assert.notEqual(pid, "0");
  for (const [path, how] of [
    ["/run/credentials/keyhold-jobs.service/my_api_key", "cat"],
    ["/run/credentials/keyhold-jobs.service", "ls"],
    [`/proc/${pid}/environ`, "cat"],
    [`/proc/${pid}/mem`, "cat"],
    ["/run/keyhold-jobs", "ls"],
    ["/var/lib/private/keyhold-jobs/runs", "ls"],
  ] as const) {
    const read = await c.runAsUser("dev", [how, path]);
    assert.notEqual(read.code, 0, `dev could read ${path}`);
    assertNoLeak(read.stdout, path);
  }
  const direct = await c.runAsUser("dev", [`${PROJECT}/src/job.sh`]);
  assert.notEqual(direct.code, 0, "the job script fails without the service's credentials");
  assert.match(direct.stderr, /my_api_key|No such file|Permission denied/);
  assertNoLeak(direct.stdout + direct.stderr, "running the job directly");
});

test("code policy committed under the sandbox: the job runs from a copy of HEAD; the repository's filter never runs in the server", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const head = (await c.check(["git", "-C", PROJECT, "rev-parse", "HEAD"], { user: "dev" })).stdout.trim();
  const clean = await c.runAsUser("dev", [
    "/usr/bin/node",
    CLI,
    "trigger",
    "committed",
    "--follow",
    "--json",
  ]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, /^hello from the committed tree$/m);
  assert.match(clean.stdout, new RegExp(`"revision": "${head}"`));
  // An edit that is not committed is not what runs; the record names the commit that did.
  await c.sh(`echo 'echo edited' >> ${PROJECT}/src/hello.sh`, { user: "dev" });
  const dirty = await c.runAsUser("dev", [
    "/usr/bin/node",
    CLI,
    "trigger",
    "committed",
    "--follow",
    "--json",
  ]);
  assert.equal(dirty.code, 0, dirty.stderr);
  assert.doesNotMatch(dirty.stdout, /edited/);
  assert.match(dirty.stdout, new RegExp(`"revision": "${head}"`));
  const outputs = await c.check(["ls", `${PROJECT}/outputs`]);
  assert.doesNotMatch(outputs.stdout, /stolen/, "the repository's clean filter never ran");
  await c.check(["git", "-C", PROJECT, "-c", "filter.x.smudge=cat", "checkout", "-q", "src/hello.sh"], {
    user: "dev",
  });
});

test("a hostile job reaches no other credential, not the audit key, the state, other runs or the server's process; its own credential works", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const hold = c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "hold", "--follow"]);
  for (let i = 0; i < 100; i++) {
    const listed = await c.run(["pgrep", "-f", "sleep 30.125"]);
    if (listed.code === 0) break;
    await sleep(50);
  }
  const pid = await mainPid(c);
  const snoop = await c.runAsUser("dev", [
    "curl",
    "-sS",
    "--unix-socket",
    "/run/keyhold/jobs.sock",
    "-X",
    "POST",
    "-d",
    JSON.stringify({
      params: {
        creds: "/run/credentials/keyhold-jobs.service",
        state: "/var/lib/private/keyhold-jobs",
        pid,
      },
    }),
    "http://localhost/v1/jobs/snoop/runs?follow=1",
  ]);
  const events = snoop.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { event: string; data?: string; run?: { state: string } });
  const out = events
    .filter((e) => e.event === "output")
    .map((e) => e.data)
    .join("");
  assert.equal(events.at(-1)?.run?.state, "succeeded", snoop.stdout);
  assert.doesNotMatch(out, /LEAK/, out);
  assert.equal((out.match(/^denied /gm) ?? []).length, SNOOP_TRIES, out);
  assert.match(out, new RegExp(`^own=${digest}$`, "m"), "its own credential is there");
  assertNoLeak(out, "the snoop output");
  const state = await c.check(["cat", "/var/lib/private/keyhold-jobs/audit.log"]);
  assert.doesNotMatch(state.stdout, /forged/);
  assert.equal((await c.run(["test", "-e", "/var/lib/private/keyhold-jobs/planted"])).code, 1);
  await c.run(["pkill", "-f", "sleep 30.125"]);
  await hold;
});

test("nothing a run starts outlives it: a setsid daemon dies with the run", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const r = await c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "daemon", "--follow"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "started\n");
  assert.equal((await c.run(["pgrep", "-f", "sleep 2.7182"])).code, 1, "the daemon is gone");
  await sleep(3500);
  assert.equal((await c.run(["test", "-e", `${PROJECT}/outputs/daemon-marker`])).code, 1);
});

test("systemctl reload re-reads the configuration; a broken file keeps the running one", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const withHello = {
    ...CONFIG,
    jobs: {
      ...CONFIG.jobs,
      hello: { argv: ["/bin/echo", "hi"], cwd: PROJECT, outputDir: `${PROJECT}/outputs` },
    },
  };
  c.writeFile("/etc/keyhold/jobs.json", JSON.stringify(withHello));
  const pid = await mainPid(c);
  await c.check(["systemctl", "reload", "keyhold-jobs.service"]);
  let r = await c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "hello", "--follow"]);
  for (let i = 0; i < 40 && r.code !== 0; i++) {
    await sleep(50); // the reload is asynchronous: systemctl returns once the signal is sent
    r = await c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "hello", "--follow"]);
  }
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "hi\n");
  c.writeFile("/etc/keyhold/jobs.json", '{"jobs": {"hello": {"argv": "not an array"}}}');
  await c.check(["systemctl", "reload", "keyhold-jobs.service"]);
  await sleep(300);
  const still = await c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "hello", "--follow"]);
  assert.equal(still.code, 0, still.stderr);
  assert.equal(await mainPid(c), pid, "a reload, not a restart");
  assert.match(
    await c.journal(["-u", "keyhold-jobs.service"]),
    /reload: keeping the old configuration: .*\[CONFIG_INVALID\]/,
  );
  c.writeFile("/etc/keyhold/jobs.json", JSON.stringify(CONFIG));
  await c.check(["systemctl", "reload", "keyhold-jobs.service"]);
});

test("a user outside the socket group cannot connect", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const r = await c.runAsUser("other", ["/usr/bin/node", CLI, "trigger", "report", "--follow"]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /cannot reach the job server at \/run\/keyhold\/jobs\.sock: EACCES \[SERVER_UNREACHABLE\]/,
  );
  const viaCurl = await c.runAsUser("other", [
    "curl",
    "-sS",
    "--unix-socket",
    "/run/keyhold/jobs.sock",
    "http://localhost/v1/health",
  ]);
  assert.notEqual(viaCurl.code, 0);
});

test("the documented outputs/: shared with the socket group only, the logs in the server's own logs/", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  assert.equal(
    (await c.check(["stat", "-c", "%a %U %G", `${PROJECT}/outputs`])).stdout.trim(),
    "2770 dev devs",
  );
  const [mode, uid, group] = (await c.check(["stat", "-c", "%a %u %G", `${PROJECT}/outputs/logs`])).stdout
    .trim()
    .split(" ");
  assert.equal(mode, "2755", "the server's logs/: nobody else writes in it");
  assert.equal(group, "devs");
  assert.ok(Number(uid) >= 61184 && Number(uid) <= 65519, `logs/ belongs to the transient user (${uid})`);
  // A job runs as the server's user and group, but cannot reach the socket to trigger more jobs.
  const knock = await c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "knock", "--follow"]);
  assert.equal(knock.code, 3, knock.stdout + knock.stderr);
  assert.doesNotMatch(knock.stdout, /connected/);
});

test("another local user cannot swap outputs/logs; a developer's swap is refused, never followed; a FIFO stalls nothing", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const outputs = `${PROJECT}/outputs`;
  const ok = await c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "noop", "--follow", "--json"]);
  assert.equal(ok.code, 0, ok.stderr);
  const done = JSON.parse(ok.stdout) as { id: string; log: string };
  assert.equal(done.log, `${outputs}/logs/${done.id}.log`);

  // Outside the socket group: outputs/ is closed to them.
  await c.check(["sh", "-c", "mkdir -p /dev/shm/other-logs && chown other /dev/shm/other-logs"]);
  for (const attempt of [
    `ls ${outputs}`,
    `mv ${outputs}/logs ${outputs}/logs.old`,
    `ln -s /dev/shm/other-logs ${outputs}/logs.new && mv -T ${outputs}/logs.new ${outputs}/logs`,
  ]) {
    const r = await c.runAsUser("other", ["sh", "-c", attempt]);
    assert.notEqual(r.code, 0, `other could: ${attempt}`);
    assert.match(r.stderr, /Permission denied/);
  }
  assert.equal((await c.check(["stat", "-c", "%F", `${outputs}/logs`])).stdout.trim(), "directory");

  // A developer (who may write to outputs/) swaps logs/ for links to the server's state, to their
  // own /dev/shm, and for a directory of their own: each run is refused, nothing is written there.
  const trigger = () => c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "noop", "--follow"]);
  await c.sh(`mv ${outputs}/logs ${outputs}/logs.real && mkdir -p /dev/shm/dev-logs`, { user: "dev" });
  try {
    for (const target of ["/var/lib/private/keyhold-jobs", "/var/lib/keyhold-jobs", "/dev/shm/dev-logs"]) {
      await c.sh(`ln -sfn ${target} ${outputs}/logs`, { user: "dev" });
      const r = await trigger();
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /logs is not a directory \(a symbolic link or a file\) \[OUTPUT_FAILED\]/);
    }
    await c.sh(`rm ${outputs}/logs && mkdir ${outputs}/logs`, { user: "dev" });
    const own = await trigger();
    assert.equal(own.code, 1);
    assert.match(own.stderr, /logs belongs to uid 65534, not to the job server .*\[OUTPUT_FAILED\]/);
    // A FIFO in place of an earlier run's log: the server answers 404 and stays responsive.
    await c.sh(`mkfifo ${outputs}/logs/${done.id}.log`, { user: "dev" });
    const log = await c.runAsUser("dev", [
      "curl",
      "-sS",
      "--max-time",
      "20",
      "--unix-socket",
      "/run/keyhold/jobs.sock",
      `http://localhost/v1/runs/${done.id}/log`,
    ]);
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stdout, /"code":"LOG_NOT_FOUND"/);
    const health = await c.runAsUser("dev", [
      "curl",
      "-sS",
      "--max-time",
      "20",
      "--unix-socket",
      "/run/keyhold/jobs.sock",
      "http://localhost/v1/health",
    ]);
    assert.match(health.stdout, /"status":"ok"/);
  } finally {
    await c.sh(`rm -rf ${outputs}/logs && mv ${outputs}/logs.real ${outputs}/logs`, { user: "dev" });
  }
  const found = await c.check([
    "sh",
    "-c",
    "find /var/lib/private/keyhold-jobs /dev/shm/dev-logs /dev/shm/other-logs -name '*.log' ! -name audit.log | wc -l",
  ]);
  assert.equal(found.stdout.trim(), "0", "no log outside outputs/logs");
  const back = await c.runAsUser("dev", [
    "curl",
    "-sS",
    "--unix-socket",
    "/run/keyhold/jobs.sock",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    `http://localhost/v1/runs/${done.id}/log`,
  ]);
  assert.equal(back.stdout, "200", "the real logs/ serves again once it is back");
});

test("the setup this replaces (outputs/ open to every user) is refused: another user's swap goes nowhere", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const outputs = `${PROJECT}/outputs`;
  await c.check(["chmod", "o+rwx", outputs]);
  try {
    const r = await c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "noop", "--follow"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /outputs is writable by every local user, who could then redirect the logs/);
    // Exactly the attack: a user outside the socket group replaces logs/ with a link of theirs.
    const swap = await c.runAsUser("other", [
      "sh",
      "-c",
      `mkdir -p /dev/shm/other-logs && mv ${outputs}/logs ${outputs}/logs.gone && ln -s /dev/shm/other-logs ${outputs}/logs`,
    ]);
    assert.equal(swap.code, 0, swap.stderr);
    const again = await c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "noop", "--follow"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /\[OUTPUT_FAILED\]/);
    assert.equal((await c.check(["sh", "-c", "ls -A /dev/shm/other-logs | wc -l"])).stdout.trim(), "0");
  } finally {
    await c.check(["sh", "-c", `rm -f ${outputs}/logs && mv ${outputs}/logs.gone ${outputs}/logs; true`]);
    await c.check(["chmod", "o-rwx", outputs]);
  }
  const r = await c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "noop", "--follow"]);
  assert.equal(r.code, 0, r.stderr);
});

test("kill -9 of the server: systemd restarts it, records survive, a run it cut is marked interrupted", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const done = await c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "noop", "--json", "--follow"]);
  const doneId = (JSON.parse(done.stdout) as { id: string }).id;
  const queued = await c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "slow", "--json"]);
  const slowId = (JSON.parse(queued.stdout) as { id: string }).id;
  await sleep(300);
  const before = await mainPid(c);
  await c.check(["kill", "-9", before]);
  let after = before;
  for (let i = 0; i < 200 && (after === before || after === "0"); i++) {
    await sleep(50);
    after = await mainPid(c);
  }
  assert.notEqual(after, before);
  const get = async (id: string) => {
    const r = await c.runAsUser("dev", [
      "curl",
      "-sS",
      "--unix-socket",
      "/run/keyhold/jobs.sock",
      `http://localhost/v1/runs/${id}`,
    ]);
    return (JSON.parse(r.stdout) as { run: { state: string } }).run;
  };
  assert.equal((await get(doneId)).state, "succeeded");
  assert.equal((await get(slowId)).state, "interrupted");
});

test("load: 1000 triggers from 20 concurrent clients as dev, none lost, every run recorded", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const r = await c.runAsUser("dev", ["/usr/bin/node", LOAD], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, r.stderr);
  const { ids, failures } = JSON.parse(r.stdout) as { ids: string[]; failures: string[]; ms: number };
  assert.deepEqual(failures, []);
  assert.equal(new Set(ids).size, 1000);
  const listed = await c.runAsUser("dev", [
    "curl",
    "-sS",
    "--unix-socket",
    "/run/keyhold/jobs.sock",
    "http://localhost/v1/runs?limit=1000&job=noop",
  ]);
  const runs = (JSON.parse(listed.stdout) as { runs: { id: string }[] }).runs.map((x) => x.id);
  for (const id of ids) assert.ok(runs.includes(id), `run ${id} recorded`);
  const onDisk = await c.check(["sh", "-c", "ls /var/lib/private/keyhold-jobs/runs | wc -l"]);
  assert.ok(Number(onDisk.stdout.trim()) >= 1000);
});

test("rotate --restart reaches the job server: status names the jobs that receive the key, the next run uses the new one", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const status = await c.check(["/usr/bin/node", CLI, "status", "my_api_key", "--json"]);
  const units = JSON.parse(status.stdout).units as { unit: string; holds: string; jobs?: string[] }[];
  const server = units.find((u) => u.unit === "keyhold-jobs.service");
  assert.deepEqual(server?.jobs, ["report", "snoop"], status.stdout);
  assert.equal(server?.holds, "current");
  const text = await c.check(["/usr/bin/node", CLI, "status", "my_api_key"]);
  assert.match(
    text.stdout,
    /^keyhold-jobs\.service is a job server: jobs report, snoop of \/etc\/keyhold\/jobs\.json receive it$/m,
  );
  // The host's audit key was made by hand above (no log yet): start root's log deliberately.
  await c.check(["/usr/bin/node", CLI, "audit", "--restart"]);
  const before = await mainPid(c);
  const rotated = makeCanary("rotated");
  const r = await c.run(["/usr/bin/node", CLI, "rotate", "my_api_key", "--restart", "--settle", "1"], {
    input: rotated,
    timeoutMs: 120_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /1 unit restarted and healthy/);
  assert.notEqual(await mainPid(c), before, "the server was restarted");
  const run = await c.runAsUser("dev", ["/usr/bin/node", CLI, "trigger", "report", "--follow"]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^using key \[REDACTED:my_api_key\]$/m, "the new value is scrubbed too");
  const file = /wrote (result-\S+\.txt)/.exec(run.stdout)?.[1];
  const result = await c.runAsUser("dev", ["cat", `${PROJECT}/outputs/${file}`]);
  assert.equal(
    result.stdout.trim(),
    `sha256=${createHash("sha256").update(rotated).digest("hex")}`,
    "the job ran with the new key",
  );
  const seen = [run.stdout, run.stderr, r.stdout, r.stderr, await c.journal()].join("\n");
  assert.equal(seen.includes(rotated), false, "the new value in output or the journal");
});

test("canary: the key is in no journal line, record, log or audit entry", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const journal = await c.journal();
  assert.match(journal, /keyhold serve: run \S+ job=report succeeded/);
  assertNoLeak(journal, "the journal");
  const state = await c.check([
    "sh",
    "-c",
    "cat /var/lib/private/keyhold-jobs/runs/*.json /var/lib/private/keyhold-jobs/audit.log 2>/dev/null",
  ]);
  assert.match(state.stdout, /"job":"report"/);
  assert.match(state.stdout, /"op":"job\.run"/, "each run is in the audit log");
  // Root verifies the job server's chain with the job server's own key (never the host's).
  const verify = await c.run([
    "/usr/bin/node",
    CLI,
    "audit",
    "--verify",
    "--state",
    "/var/lib/private/keyhold-jobs",
    "--key",
    "/var/lib/keyhold/keyhold-jobs.audit-key",
  ]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  await c.check(["cp", "/var/lib/keyhold/keyhold.audit-key", "/tmp/host.audit-key"]);
  const withHostKey = await c.run([
    "/usr/bin/node",
    CLI,
    "audit",
    "--verify",
    "--state",
    "/var/lib/private/keyhold-jobs",
    "--key",
    "/tmp/host.audit-key",
  ]);
  assert.notEqual(withHostKey.code, 0, "the host's key does not seal the job server's log");
  assertNoLeak(state.stdout, "the records and the audit log");
  const outputs = await c.check(["sh", "-c", `cat ${PROJECT}/outputs/logs/*.log`]);
  assertNoLeak(outputs.stdout, "the logs");
});

test("the server's audit log deleted with its head is reported: the install anchored it, the server owns the anchor", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const dir = "/var/lib/private/keyhold-jobs";
  const owners = await c.check(["stat", "-c", "%u %a", dir, `${dir}/keyhold.audit-anchor`]);
  const [ofDir, ofAnchor] = owners.stdout.trim().split("\n");
  assert.notEqual(ofDir?.split(" ")[0], "0", "the state directory is the server's transient user's");
  assert.equal(ofAnchor, `${ofDir?.split(" ")[0]} 600`, "systemd gave the install's anchor to the server");
  await c.check(["systemctl", "stop", "keyhold-jobs.service"]);
  await c.check(["rm", `${dir}/audit.log`, `${dir}/audit.log.head`]);
  const verify = await c.run([
    "/usr/bin/node",
    CLI,
    "audit",
    "--verify",
    "--state",
    dir,
    "--key",
    "/var/lib/keyhold/keyhold-jobs.audit-key",
  ]);
  assert.equal(verify.code, 3, verify.stdout + verify.stderr);
  assert.match(
    verify.stderr,
    /audit: deleted \(seq \d+\): the log and its head are gone, but the anchor seals seq \d+/,
  );
});
