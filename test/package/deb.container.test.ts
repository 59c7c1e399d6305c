import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { bootForSuite, type ContainerSuite, needContainer } from "../harness/index.js";
import { CHECKOUT } from "../support/checkout.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";

/**
 * The Debian package, built by scripts/package-deb.sh from this (built) checkout and installed
 * with `apt install ./keyhold_<version>_<arch>.deb` in a booted systemd whose /usr is a writable
 * layer over the host's: apt checks its Depends against the host's package database (copied in),
 * keyhold lands under /usr/lib/keyhold and /usr/bin/keyhold, and that keyhold stores and hands
 * out a key on a scratch store.
 */
let suite: ContainerSuite;
let scratch: Scratch;
let deb: string;

before(async () => {
  scratch = makeScratch("keyhold-deb-");
  execFileSync("bash", [join(CHECKOUT, "scripts/package-deb.sh"), scratch.root], {
    env: { ...process.env, KEYHOLD_DEB_NO_BUILD: "1" },
    stdio: ["ignore", "ignore", "inherit"],
    timeout: 400_000,
  });
  deb = readdirSync(scratch.root).find((f) => /^keyhold_[0-9.]+_[a-z0-9]+\.deb$/.test(f)) as string;
  suite = await bootForSuite({
    label: "deb",
    bindProject: false,
    writableUsr: true,
    binds: [
      { host: scratch.root, container: "/mnt/deb", readOnly: true },
      { host: "/var/lib/dpkg", container: "/mnt/dpkg", readOnly: true },
    ],
  });
});
after(async () => {
  await suite?.stop();
  scratch?.cleanup();
});

test("apt install ./keyhold_<version>_<arch>.deb installs keyhold_<version>_<arch>.deb and the installed keyhold sets and hands out a key", async (t) => {
  assert.match(deb, /^keyhold_[0-9.]+_[a-z0-9]+\.deb$/);
  const c = needContainer(t, suite);
  if (c === undefined) return;
  // The container's /etc and /var start empty: the host's package database (without its stat
  // overrides, whose groups this /etc lacks) and the directories apt expects.
  await c.check([
    "sh",
    "-c",
    "mkdir -p /var/lib/dpkg && cp -a /mnt/dpkg/. /var/lib/dpkg/ && : > /var/lib/dpkg/statoverride && mkdir -p /var/lib/apt/lists/partial /var/cache/apt/archives/partial /etc/apt/apt.conf.d /etc/apt/sources.list.d /etc/apt/preferences.d && touch /etc/apt/sources.list",
  ]);
  const fields = await c.check(["dpkg-deb", "-f", `/mnt/deb/${deb}`, "Depends", "Architecture"]);
  assert.match(fields.stdout, /^Depends: nodejs \(>= 20\), systemd \(>= 250\)$/m);
  // Native modules (libsodium's binding, the keyring's) make it this machine's architecture.
  const arch = (await c.check(["dpkg", "--print-architecture"])).stdout.trim();
  assert.match(fields.stdout, new RegExp(`^Architecture: ${arch}$`, "m"));
  await c.check(["cp", `/mnt/deb/${deb}`, "/root/"]);
  const installed = await c.run(["apt", "install", "-y", `./${deb}`], { cwd: "/root" });
  assert.equal(installed.code, 0, installed.stderr);
  assert.match(installed.stdout, /^Setting up keyhold /m);
  assert.equal(
    (await c.check(["readlink", "/usr/bin/keyhold"])).stdout.trim(),
    "../lib/keyhold/bin/keyhold.js",
  );
  // The man page and completions come with it, rendered from the command table.
  for (const file of [
    "/usr/share/man/man1/keyhold.1.gz",
    "/usr/share/bash-completion/completions/keyhold",
    "/usr/share/zsh/site-functions/_keyhold",
  ])
    assert.equal((await c.run(["test", "-s", file])).code, 0, `${file} is installed`);
  const help = await c.run(["keyhold", "--help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: keyhold COMMAND/);

  const value = makeCanary("deb");
  const env = {
    KEYHOLD_STORE: "/root/scratch/credstore.encrypted",
    KEYHOLD_STATE: "/root/scratch/state",
    SYSTEMD_CREDENTIAL_SECRET: "/root/scratch/host-credential.secret",
  };
  await c.check(["mkdir", "-m", "0700", "-p", "/root/scratch"]);
  await c.check(["keyhold", "init"], { env });
  await c.check(["keyhold", "set", "deb_api_key"], { env, input: value });
  const read = await c.check(
    ["keyhold", "run", "deb_api_key", "--", "sh", "-c", 'cat "$CREDENTIALS_DIRECTORY/deb_api_key"'],
    {
      env,
    },
  );
  assert.equal(read.stdout, value);
});

/**
 * The README's "Quick start" and "Migrating from plaintext" blocks, read from README.md as they
 * are today and run line by line (without `sudo`: this is root) against the installed package,
 * with its default store and state directory: what a new user types must work as written.
 */
function readmeBlock(heading: string): string[] {
  const readme = readFileSync(join(CHECKOUT, "README.md"), "utf8");
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start !== -1, `README.md has ${heading}`);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start));
  assert.ok(block, `a sh block follows ${heading}`);
  return (block[1] as string)
    .split("\n")
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter((line) => line !== "");
}

test("the README's quick start and migration, as written, work on the installed package", async (t) => {
  const c = needContainer(t, suite);
  if (c === undefined) return;
  if ((await c.run(["test", "-x", "/usr/bin/keyhold"])).code !== 0) {
    t.skip("the package did not install (see the test above)");
    return;
  }
  const first = makeCanary("quick-first");
  const second = makeCanary("quick-second");
  const imported = makeCanary("quick-imported");
  const fromEnv = makeCanary("quick-env");
  const sha = (v: string) => createHash("sha256").update(v).digest("hex");
  await c.check(["mkdir", "-p", "/root/app", "/home/me"]);
  // job.py from the quick start: it reads the key from $CREDENTIALS_DIRECTORY and prints its hash.
  await c.check(["sh", "-c", `cat > /root/app/job.py <<'EOF'
import hashlib, os
path = os.path.join(os.environ["CREDENTIALS_DIRECTORY"], "openai_api_key")
print(hashlib.sha256(open(path, "rb").read()).hexdigest())
EOF`]);
  // What a user answers at each step that reads a value: set, then rotate, from stdin.
  const answers: Record<string, string> = { set: `${first}\n`, rotate: `${second}\n` };
  const steps = readmeBlock("## Quick start");
  assert.ok(steps.length >= 8, steps.join("\n"));
  for (const step of steps) {
    const argv = step.replace(/^sudo /, "").split(/\s+/);
    assert.equal(argv[0], "keyhold", step);
    const r = await c.run(argv, { cwd: "/root/app", input: answers[argv[1] as string] ?? "" });
    assert.equal(r.code, 0, `${step}\n${r.stdout}${r.stderr}`);
    for (const v of [first, second]) {
      assert.ok(!r.stdout.includes(v) && !r.stderr.includes(v), `${step} printed a value`);
    }
    if (argv[1] === "run") assert.equal(r.stdout.trim(), sha(first), "job.py read the key set above");
    if (argv[1] === "ls") assert.match(r.stdout, /openai_api_key/);
  }
  // After rotate then rollback, the first value is current again.
  const now = await c.check(["keyhold", "get", "openai_api_key"]);
  assert.equal(sha(now.stdout), sha(first));

  // Migrating from plaintext: a key file written with echo, and a .env in the working directory.
  await c.check(["sh", "-c", `umask 077 && printf '%s\\n' '${imported}' > /home/me/insecurekey`]);
  await c.check(["sh", "-c", `umask 077 && printf 'WEATHER_API_KEY=%s\\n' '${fromEnv}' > /root/app/.env`]);
  for (const step of readmeBlock("Migrating from plaintext:")) {
    const argv = step.replace(/^sudo /, "").split(/\s+/);
    const r = await c.run(argv, { cwd: "/root/app" });
    assert.equal(r.code, 0, `${step}\n${r.stdout}${r.stderr}`);
    assert.ok(!r.stdout.includes(imported) && !r.stdout.includes(fromEnv), `${step} printed a value`);
  }
  assert.equal((await c.run(["test", "-e", "/home/me/insecurekey"])).code, 1, "--shred removed the plaintext");
  const back = await c.check(["keyhold", "get", "stripe_api_key"]);
  assert.equal(back.stdout, imported, "imported as the value typed (the echo's newline dropped)");
  assert.equal((await c.check(["keyhold", "get", "weather_api_key"])).stdout, fromEnv);
  const doctor = await c.run(["keyhold", "doctor"]);
  assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
  await c.check(["keyhold", "audit", "--verify"]);
});

test("apt remove leaves no files", async (t) => {
  const c = needContainer(t, suite);
  if (c === undefined) return;
  const removed = await c.run(["apt", "remove", "-y", "keyhold"]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal((await c.run(["test", "-e", "/usr/lib/keyhold"])).code, 1, "apt remove leaves no files");
});
