import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  bootForSuite,
  type ContainerSuite,
  keyholdInside as keyhold,
  needContainer,
} from "../harness/index.js";
import { makeCanary } from "../support/scratch.js";

/**
 * `keyhold unit --socket PATH`: a service holding a key behind a Unix socket systemd listens on.
 * A service that listens itself makes its socket as its own (dynamic) user with systemd's umask
 * 0022, so no other local user may connect; the socket unit keyhold renders in its place must not
 * let every local user reach the service (systemd's default SocketMode= is 0666).
 */

const WEB = "/srv/web/web.mjs";
const WEB_SOURCE = `import { createServer } from "node:net";
import { loadSecret } from "/opt/keyhold/dist/src/index.js";
await loadSecret("web_key");
createServer((s) => s.end("ok")).listen({ fd: 3 });
`;
const SOCKET = "/run/kh-web/web.sock";
// Connects to the socket: prints "ok" when the service answered, else the error's code.
const CLIENT = "/srv/web/client.mjs";
const CLIENT_SOURCE = `import { connect } from "node:net";
const s = connect("${SOCKET}");
let data = "";
s.on("data", (d) => (data += d));
s.on("end", () => console.log(data));
s.on("error", (e) => console.log(e.code));
`;

let suite: ContainerSuite;
before(async () => {
  suite = await bootForSuite({ label: "sockmode" });
  const c = suite.container;
  if (c === undefined) return;
  c.writeFile(WEB, WEB_SOURCE, { mode: 0o644 });
  c.writeFile(CLIENT, CLIENT_SOURCE, { mode: 0o644 });
  await c.addUser("eve");
  await c.check(keyhold("init"));
  await c.check(keyhold("set", "web_key", "--with-key", "host"), { input: makeCanary("web") });
  await c.check(
    keyhold(
      "unit",
      "kh-web",
      "--mode",
      "isolated",
      "--exec",
      `/usr/bin/node ${WEB}`,
      "--cred",
      "web_key",
      "--socket",
      SOCKET,
      "--install",
    ),
  );
  await c.check(["systemctl", "daemon-reload"]);
  await c.check(["systemctl", "start", "kh-web.socket"]);
});

after(async () => {
  await suite?.stop();
});

test("another local user cannot connect to a --socket service's Unix socket", async (t) => {
  const c = needContainer(t, suite);
  if (!c) return;
  const asRoot = await c.check(["/usr/bin/node", CLIENT]);
  assert.equal(asRoot.stdout.trim(), "ok", "root reaches the service");
  const asEve = await c.runAsUser("eve", ["/usr/bin/node", CLIENT]);
  assert.equal(asEve.stdout.trim(), "EACCES", "every local user reaches the key-holding service");
});
