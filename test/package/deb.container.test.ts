import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
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
  const removed = await c.run(["apt", "remove", "-y", "keyhold"]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal((await c.run(["test", "-e", "/usr/lib/keyhold"])).code, 1, "apt remove leaves no files");
});
