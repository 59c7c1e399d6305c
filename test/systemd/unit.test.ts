import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isSecretError } from "../../src/secret/index.js";
import {
  looksLikeSecret,
  renderExecLine,
  renderUnit,
  splitCommandLine,
  type UnitOptions,
  vaultUnitPrefix,
} from "../../src/units/index.js";
import { assertMatchesSnapshot, SNAPSHOT_CASES } from "./cases.js";
import { makeCanary } from "../support/scratch.js";

/**
 * renderUnit: what each mode renders (compared with the reviewed snapshots in
 * test/systemd/snapshots/, regenerated with UPDATE_SNAPSHOTS=1), the directives each mode must
 * carry, and the input it refuses.
 */

function directives(content: string): string[] {
  return content.split("\n").filter((l) => /^[A-Za-z]+=/.test(l));
}

describe("renderUnit", () => {
  for (const [name, options] of Object.entries(SNAPSHOT_CASES)) {
    it(`${name}: matches its reviewed snapshot`, () => {
      assertMatchesSnapshot(name, renderUnit(options).files);
    });
  }

  it("standard: LoadCredentialEncrypted= for each credential and PrivateMounts=yes", () => {
    const { files, primary } = renderUnit({
      service: "my_service.service",
      mode: "standard",
      exec: "/usr/bin/python3 /opt/my_service/main.py",
      credentials: ["my_api_key", "db_password:/srv/keys/db_password"],
    });
    assert.equal(primary, "my_service.service");
    assert.deepEqual(
      files.map((f) => f.path),
      ["my_service.service"],
    );
    const lines = directives(files[0]?.content ?? "");
    assert.ok(lines.includes("LoadCredentialEncrypted=my_api_key:/etc/credstore.encrypted/my_api_key"));
    assert.ok(lines.includes("LoadCredentialEncrypted=db_password:/srv/keys/db_password"));
    assert.ok(lines.includes("PrivateMounts=yes"));
    assert.ok(lines.includes("LimitCORE=0"), "a core dump would write the key to disk");
    assert.ok(lines.includes("ExecStart=/usr/bin/python3 /opt/my_service/main.py"));
    assert.ok(!lines.some((l) => l.startsWith("DynamicUser=")));
  });

  it("isolated: the same plus DynamicUser=yes and the sandbox", () => {
    const { files } = renderUnit({
      service: "web",
      mode: "isolated",
      exec: "/usr/bin/node /srv/web.js",
      credentials: ["k"],
    });
    const lines = directives(files[0]?.content ?? "");
    for (const d of [
      "DynamicUser=yes",
      "PrivateMounts=yes",
      "ProtectSystem=strict",
      "NoNewPrivileges=yes",
      "CapabilityBoundingSet=",
    ]) {
      assert.ok(lines.includes(d), d);
    }
    assert.ok(!lines.some((l) => l.startsWith("MemoryDenyWriteExecute=")), "V8 needs W+X memory");
  });

  it("jobserver: a socket for one group and a sandboxed DynamicUser service running keyhold serve", () => {
    const { files, primary, credentials } = renderUnit(SNAPSHOT_CASES.jobserver as UnitOptions);
    assert.equal(primary, "keyhold-jobs.socket");
    const socket = files.find((f) => f.path === "keyhold-jobs.socket")?.content ?? "";
    const service = directives(files.find((f) => f.path === "keyhold-jobs.service")?.content ?? "");
    for (const d of ["ListenStream=/run/keyhold/jobs.sock", "SocketMode=0660", "SocketGroup=devs"]) {
      assert.ok(directives(socket).includes(d), d);
    }
    for (const d of [
      "ExecStart=/usr/bin/node /opt/keyhold/bin/keyhold.js serve --config /etc/keyhold/jobs.json",
      "DynamicUser=yes",
      "ProtectSystem=strict",
      "ProtectHome=tmpfs",
      "BindPaths=/home/dev/project/outputs",
      "BindPaths=/home/dev/project/logs",
      "BindReadOnlyPaths=/home/dev/project",
      "PrivateTmp=yes",
      "Environment=HOME=/tmp",
      "NoNewPrivileges=yes",
      "CapabilityBoundingSet=",
      "SystemCallFilter=@system-service",
      "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
      "UMask=0022",
      "LimitCORE=0",
      "Restart=on-failure",
      "IPAddressDeny=any",
      "IPAddressAllow=192.0.2.0/24",
      "StateDirectory=keyhold-jobs",
      "LoadCredentialEncrypted=my_api_key:/etc/credstore.encrypted/my_api_key",
      "LoadCredentialEncrypted=keyhold.audit-key:/var/lib/keyhold/keyhold-jobs.audit-key",
      "RestrictNamespaces=user mnt pid ipc",
      "SystemCallFilter=@mount",
    ]) {
      assert.ok(service.includes(d), d);
    }
    assert.deepEqual(
      credentials.map((c) => c.id),
      ["my_api_key", "keyhold.audit-key"],
    );
  });

  it("jobserver without --ip-allow: no network at all (PrivateNetwork=yes, Unix sockets only)", () => {
    const { files } = renderUnit(SNAPSHOT_CASES["jobserver-offline"] as UnitOptions);
    const service = directives(files.find((f) => f.path.endsWith(".service"))?.content ?? "");
    for (const d of ["PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX", "IPAddressDeny=any"])
      assert.ok(service.includes(d), d);
    assert.ok(!service.some((l) => l.startsWith("IPAddressAllow=")));
    const isolated = directives(
      renderUnit({ service: "web", mode: "isolated", exec: "/usr/bin/true" }).files[0]?.content ?? "",
    );
    assert.ok(
      isolated.includes("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6") &&
        !isolated.includes("PrivateNetwork=yes"),
    );
  });

  it("ProtectHome=yes unless a bound path lives under /home, /root or /run/user", () => {
    const outside = renderUnit({
      service: "a",
      mode: "isolated",
      exec: "/usr/bin/true",
      bindPaths: ["/srv/data"],
    });
    assert.match(outside.files[0]?.content ?? "", /^ProtectHome=yes$/m);
    const inside = renderUnit({
      service: "a",
      mode: "isolated",
      exec: "/usr/bin/true",
      bindReadOnlyPaths: ["/root/x"],
    });
    assert.match(inside.files[0]?.content ?? "", /^ProtectHome=tmpfs$/m);
  });

  it("a job server installed under /home gets its own code bound read-only", () => {
    const { files } = renderUnit({
      service: "keyhold-jobs",
      mode: "jobserver",
      keyholdRoot: "/home/ops/keyhold",
    });
    const content = files[0]?.content ?? "";
    assert.match(content, /^BindReadOnlyPaths=\/home\/ops\/keyhold$/m);
    assert.match(content, /^ProtectHome=tmpfs$/m);
  });

  it("--drop-in renders only the [Service] additions under SERVICE.service.d/", () => {
    const { files, primary } = renderUnit(SNAPSHOT_CASES["drop-in"] as UnitOptions);
    assert.equal(primary, "postgresql.service");
    assert.equal(files.length, 1);
    assert.equal(files[0]?.path, "postgresql.service.d/50-keyhold-credentials.conf");
    const content = files[0]?.content ?? "";
    assert.ok(!/^ExecStart=/m.test(content) && !/^\[Install\]/m.test(content) && !/^\[Unit\]/m.test(content));
    assert.match(content, /^LoadCredentialEncrypted=pg_password:\/etc\/credstore\.encrypted\/pg_password$/m);
  });

  it("a job server drop-in adds a job's credentials, project and hosts, and leaves the sandbox to the main unit", () => {
    const { files } = renderUnit({
      service: "keyhold-jobs",
      mode: "jobserver",
      dropIn: true,
      credentials: ["report_key"],
      bindPaths: ["/home/ann/report/outputs"],
      bindReadOnlyPaths: ["/home/ann/report"],
      ipAllow: ["203.0.113.7"],
    });
    assert.equal(files.length, 1);
    assert.deepEqual(directives(files[0]?.content ?? ""), [
      "LoadCredentialEncrypted=report_key:/etc/credstore.encrypted/report_key",
      "BindPaths=/home/ann/report/outputs",
      "BindReadOnlyPaths=/home/ann/report",
      "ProtectHome=tmpfs",
      "IPAddressAllow=203.0.113.7",
    ]);
  });

  it("ExecStart= escapes specifiers, variables and quotes so systemd runs exactly the words given", () => {
    assert.equal(
      renderExecLine(`/usr/bin/printf '100%% of $HOME' "a \\"b\\"" plain`),
      `/usr/bin/printf "100%%%% of $$HOME" "a \\"b\\"" plain`,
    );
    assert.deepEqual(splitCommandLine(`/bin/a 'b c' "d\\"e" f\\ g`), ["/bin/a", "b c", 'd"e', "f g"]);
  });
});

interface BadCase {
  what: string;
  options: Partial<UnitOptions>;
  code: string;
  message: RegExp;
}

const base: UnitOptions = { service: "my-app", mode: "standard", exec: "/usr/bin/true" };

const BAD: BadCase[] = [
  {
    what: "a vault secret whose name is also a --cred",
    options: { credentials: ["openai"], vault: [{ ns: "billing", name: "openai" }] },
    code: "USAGE",
    message: /credential openai is given twice/,
  },
  {
    what: "two vault secrets with the same name",
    options: {
      vault: [
        { ns: "billing", name: "openai" },
        { ns: "search", name: "openai" },
      ],
    },
    code: "USAGE",
    message: /credential openai is given twice/,
  },
  {
    what: "a vault secret whose socket path would not fit a Unix socket address",
    options: { vault: [{ ns: "n".repeat(60), name: "k".repeat(40) }] },
    code: "USAGE",
    message: /would be 1[0-9]{2} bytes long; a Unix socket path holds at most 107/,
  },
  {
    what: "an unknown mode",
    options: { mode: "paranoid" as never },
    code: "USAGE",
    message: /invalid mode "paranoid"/,
  },
  {
    what: "a credential name with '/'",
    options: { credentials: ["a/b"] },
    code: "INVALID_NAME",
    message: /invalid credential name/,
  },
  {
    what: "a credential name with ':' in its ID",
    options: { credentials: [":x"] },
    code: "INVALID_NAME",
    message: /name is empty/,
  },
  {
    what: "the same credential twice",
    options: { credentials: ["k", "k:/srv/k"] },
    code: "USAGE",
    message: /given twice/,
  },
  {
    what: "a relative command",
    options: { exec: "python3 main.py" },
    code: "USAGE",
    message: /must be an absolute path/,
  },
  {
    what: "a command through ..",
    options: { exec: "/usr/bin/../bin/sh" },
    code: "USAGE",
    message: /"\." or "\.\." parts/,
  },
  { what: "an empty command", options: { exec: "   " }, code: "USAGE", message: /--exec is empty/ },
  {
    what: "a newline in the command",
    options: { exec: "/usr/bin/true\nExecStartPre=/bin/sh" },
    code: "USAGE",
    message: /newlines/,
  },
  {
    what: "an unterminated quote",
    options: { exec: "/usr/bin/echo 'a" },
    code: "USAGE",
    message: /unterminated/,
  },
  {
    what: "a lone ';'",
    options: { exec: "/usr/bin/true ; /usr/bin/false" },
    code: "USAGE",
    message: /command separator/,
  },
  {
    what: "no command for a full unit",
    options: { exec: undefined },
    code: "USAGE",
    message: /--exec is required/,
  },
  {
    what: "a bind with ..",
    options: { mode: "isolated", bindPaths: ["/srv/../etc"] },
    code: "USAGE",
    message: /"\." or "\.\." parts/,
  },
  {
    what: "a relative bind",
    options: { mode: "isolated", bindPaths: ["outputs"] },
    code: "USAGE",
    message: /absolute path/,
  },
  {
    what: "a bind of /",
    options: { mode: "isolated", bindReadOnlyPaths: ["/"] },
    code: "USAGE",
    message: /refusing to bind \//,
  },
  {
    what: "a bind with a blank",
    options: { mode: "isolated", bindPaths: ["/srv/my data"] },
    code: "USAGE",
    message: /syntax/,
  },
  {
    what: "a bind not normalised",
    options: { mode: "isolated", bindPaths: ["/srv//data/"] },
    code: "USAGE",
    message: /not a normalised path/,
  },
  {
    what: "a bind in standard mode",
    options: { bindPaths: ["/srv"] },
    code: "USAGE",
    message: /apply to --mode isolated/,
  },
  {
    what: "a service name with '/'",
    options: { service: "../etc/passwd" },
    code: "USAGE",
    message: /invalid service name/,
  },
  {
    what: "a group outside jobserver mode",
    options: { group: "devs" },
    code: "USAGE",
    message: /jobserver only/,
  },
  {
    what: "a bad group name",
    options: { mode: "jobserver", group: "Dev Ops" },
    code: "USAGE",
    message: /invalid group name/,
  },
  {
    what: "a bad --ip-allow",
    options: { ipAllow: ["10.0.0.0/33"] },
    code: "USAGE",
    message: /invalid --ip-allow/,
  },
  {
    what: "a host name in --ip-allow",
    options: { ipAllow: ["api.example.com"] },
    code: "USAGE",
    message: /invalid --ip-allow/,
  },
  {
    what: "--exec with --drop-in",
    options: { dropIn: true },
    code: "USAGE",
    message: /does not go with --drop-in/,
  },
  {
    what: "a relative store",
    options: { store: "credstore" },
    code: "USAGE",
    message: /store directory must be an absolute path/,
  },
];

describe("renderUnit --vault", () => {
  const vault = [
    { ns: "billing", name: "openai" },
    { ns: "billing", name: "stripe_key" },
  ];
  const openai = vaultUnitPrefix("my-app", { ns: "billing", name: "openai" });
  const stripe = vaultUnitPrefix("my-app", { ns: "billing", name: "stripe_key" });

  it("names each secret's answering units after the secret, stably", () => {
    assert.match(openai, /^my-app-vault-[0-9a-f]{10}$/);
    assert.notEqual(openai, stripe);
    assert.equal(vaultUnitPrefix("my-app", { ns: "billing", name: "openai" }), openai);
    assert.notEqual(
      vaultUnitPrefix("my-app", { ns: "billing.x", name: "y" }),
      vaultUnitPrefix("my-app", { ns: "billing", name: "x.y" }),
    );
  });

  it("loads each secret from its own root-only socket, answered by a per-request root instance that is told which secret", () => {
    const rendered = renderUnit({ ...base, mode: "isolated", vault, keyholdRoot: "/opt/keyhold" });
    assert.deepEqual(
      rendered.files.map((f) => f.path),
      ["my-app.service", `${openai}.socket`, `${openai}@.service`, `${stripe}.socket`, `${stripe}@.service`],
    );
    assert.deepEqual(rendered.vaultSockets, [`${openai}.socket`, `${stripe}.socket`]);
    assert.deepEqual(rendered.credentials, [], "sockets are not files whose embedded name can be checked");
    assert.deepEqual(
      rendered.vaultCredentials.map((c) => [c.id, c.path]),
      [
        ["openai", "/run/keyhold-vault/my-app/billing/openai"],
        ["stripe_key", "/run/keyhold-vault/my-app/billing/stripe_key"],
      ],
    );
    const [service, socket, answerer] = rendered.files.map((f) => directives(f.content));
    assert.ok(service?.includes("LoadCredentialEncrypted=openai:/run/keyhold-vault/my-app/billing/openai"));
    assert.ok(service?.includes(`Wants=${openai}.socket ${stripe}.socket`));
    assert.ok(service?.includes(`After=${openai}.socket ${stripe}.socket`));
    for (const line of [
      "ListenStream=/run/keyhold-vault/my-app/billing/openai",
      "SocketUser=root",
      "SocketMode=0600",
      "DirectoryMode=0700",
      "Accept=yes",
    ])
      assert.ok(socket?.includes(line), line);
    assert.equal(
      socket?.filter((l) => l.startsWith("ListenStream=")).length,
      1,
      "one secret per socket unit",
    );
    assert.ok(
      answerer?.includes(
        "ExecStart=/usr/bin/node /opt/keyhold/bin/keyhold.js vault serve-credential --for my-app --ref billing/openai --store /etc/credstore.encrypted --state /var/lib/keyhold --peer %i",
      ),
      answerer?.join("\n"),
    );
    for (const line of [
      "StandardInput=null",
      "RestrictAddressFamilies=AF_UNIX",
      "IPAddressDeny=any",
      "LimitCORE=0",
      "CapabilityBoundingSet=",
      "ReadWritePaths=-/var/lib/keyhold",
      "ProtectHome=yes",
    ])
      assert.ok(answerer?.includes(line), line);
    assert.ok(
      !answerer?.some((l) => l.startsWith("ReadWritePaths=") && l.includes("/etc/credstore.encrypted")),
      "the credential store stays read-only to it",
    );
    assert.ok(!answerer?.some((l) => l.startsWith("DynamicUser=")), "it reads root's vault: it runs as root");
  });

  it("lets the answering instance reach PostgreSQL, and root's ~/.pgpass, when the vault lives there", () => {
    const rendered = renderUnit({ ...base, vault, vaultNetwork: true });
    const answerer = directives(rendered.files.find((f) => f.path === `${openai}@.service`)?.content ?? "");
    assert.ok(answerer.includes("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"));
    assert.ok(!answerer.includes("IPAddressDeny=any"));
    assert.ok(answerer.includes("ProtectHome=read-only"));
  });

  it("binds keyhold, node and a state directory under a home into the answering instance's empty /home", () => {
    const rendered = renderUnit({
      ...base,
      vault,
      state: "/home/ops/keyhold-state",
      keyholdRoot: "/root/keyhold",
      node: "/root/.nvm/versions/node/v20.20.2/bin/node",
    });
    const answerer = directives(rendered.files.find((f) => f.path === `${openai}@.service`)?.content ?? "");
    for (const line of [
      "ProtectHome=tmpfs",
      "BindReadOnlyPaths=/root/.nvm/versions/node/v20.20.2/bin/node",
      "BindReadOnlyPaths=/root/keyhold",
      "BindPaths=-/home/ops/keyhold-state",
      "ReadWritePaths=-/home/ops/keyhold-state",
    ])
      assert.ok(answerer.includes(line), `${line}\n${answerer.join("\n")}`);
    assert.ok(
      !answerer.includes("BindReadOnlyPaths=/etc/credstore.encrypted"),
      "only what lies under a home",
    );
  });

  it("a drop-in for an existing service orders it after the answering sockets", () => {
    const rendered = renderUnit({ service: "billing-api", mode: "standard", dropIn: true, vault });
    const dropIn = rendered.files[0]?.content ?? "";
    const a = vaultUnitPrefix("billing-api", vault[0] as { ns: string; name: string });
    const b = vaultUnitPrefix("billing-api", vault[1] as { ns: string; name: string });
    assert.match(
      dropIn,
      new RegExp(`^\\[Unit\\]\\nWants=${a}\\.socket ${b}\\.socket\\nAfter=${a}\\.socket ${b}\\.socket$`, "m"),
    );
    assert.match(
      dropIn,
      /^LoadCredentialEncrypted=stripe_key:\/run\/keyhold-vault\/billing-api\/billing\/stripe_key$/m,
    );
    assert.equal(rendered.files[0]?.path, "billing-api.service.d/50-keyhold-credentials.conf");
    assert.equal(rendered.files.length, 5);
  });

  it("a refused credential (243/CREDENTIALS: a revoked grant) leaves the unit failed instead of restarting it", () => {
    // However long each refused start takes: systemd's start limit stops only quick restarts.
    const full = renderUnit({ service: "billing-api", mode: "standard", exec: "/usr/bin/true", vault });
    const service = directives(full.files.find((f) => f.path === "billing-api.service")?.content ?? "");
    assert.ok(service.includes("Restart=on-failure"));
    assert.ok(service.includes("RestartPreventExitStatus=243"), service.join("\n"));
    // A drop-in keeps the service's own Restart= (perhaps always): the exception still applies.
    const dropIn = renderUnit({ service: "billing-api", mode: "standard", dropIn: true, vault });
    assert.ok(directives(dropIn.files[0]?.content ?? "").includes("RestartPreventExitStatus=243"));
  });
});

describe("renderUnit refuses bad input with a coded one-line error", () => {
  for (const bad of BAD) {
    it(`refuses ${bad.what} [${bad.code}]`, () => {
      assert.throws(
        () => renderUnit({ ...base, ...bad.options }),
        (err) =>
          isSecretError(err) &&
          err.code === bad.code &&
          bad.message.test(err.message) &&
          !err.message.includes("\n"),
      );
    });
  }

  it("refuses a key in the command line without repeating it [SECRET_IN_COMMAND]", () => {
    const canary = makeCanary("exec");
    for (const exec of [
      `/usr/bin/app --token ${canary}`,
      `/usr/bin/app --token=${canary}`,
      `/usr/bin/app ${canary}`,
    ]) {
      assert.throws(
        () => renderUnit({ ...base, exec }),
        (err) =>
          isSecretError(err, "SECRET_IN_COMMAND") &&
          !err.message.includes(canary) &&
          !(err.hint ?? "").includes(canary),
      );
    }
  });

  it("refuses the value of an option named like a secret, whatever it looks like", () => {
    for (const exec of [
      "/usr/bin/app --password hunter2",
      "/usr/bin/app --api-key=abc",
      "/usr/bin/app -token x1",
      "/usr/bin/app --client-secret=s",
    ]) {
      assert.throws(
        () => renderUnit({ ...base, exec }),
        (err) => isSecretError(err, "SECRET_IN_COMMAND") && !err.message.includes("hunter2"),
        exec,
      );
    }
    // Paths to the key are what a command line should hold.
    for (const exec of [
      "/usr/bin/app --token-file=%d/my_api_key",
      "/usr/bin/app --password-file /run/x",
      "/usr/bin/app --api-key %d/my_api_key",
      "/usr/bin/app --sort-key name",
    ]) {
      assert.doesNotThrow(() => renderUnit({ ...base, exec }), exec);
    }
  });

  it("keeps %d, systemd's credentials directory, and escapes every other %", () => {
    assert.equal(
      renderExecLine("/usr/bin/app --key-file=%d/my_api_key --ratio=50%"),
      "/usr/bin/app --key-file=%d/my_api_key --ratio=50%%",
    );
  });

  it("tells keys from ordinary command words", () => {
    for (const key of [
      "sk-proj-4f9aQ2mZ8xW1vB7nK3pL6tY0",
      "AKIAIOSFODNN7EXAMPLE",
      "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
      "Zx8Qm2Lr7Vt4Kp9Wn3Bs6Hd1",
    ]) {
      assert.ok(looksLikeSecret(key), key);
    }
    for (const word of [
      "/usr/bin/python3",
      "--config=/etc/app/config.yaml",
      "--port",
      "8080",
      "main.py",
      "--log-level=debug",
      "my_api_key",
      "2026-11-23",
    ]) {
      assert.ok(!looksLikeSecret(word), word);
    }
  });
});
