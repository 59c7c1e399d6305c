import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isSecretError } from "../../src/secret/index.js";
import { renderUnit, type UnitOptions } from "../../src/units/index.js";

/** `keyhold unit --socket` and `--health`: what they render and the input they refuse. */

const base: UnitOptions = {
  service: "web",
  mode: "isolated",
  exec: "/usr/bin/node /srv/web.mjs",
  credentials: ["k"],
};

describe("--socket", () => {
  it("renders a socket the service requires, listed in [Install], as the unit to enable", () => {
    const r = renderUnit({ ...base, socket: "127.0.0.1:8080" });
    assert.equal(r.primary, "web.socket");
    const socket = r.files.find((f) => f.path === "web.socket")?.content ?? "";
    assert.match(socket, /^ListenStream=127\.0\.0\.1:8080$/m);
    assert.match(socket, /^Service=web\.service$/m);
    assert.match(socket, /^WantedBy=sockets\.target$/m);
    const service = r.files.find((f) => f.path === "web.service")?.content ?? "";
    assert.match(service, /^Requires=web\.socket$/m);
    assert.match(service, /^After=web\.socket$/m);
    assert.match(service, /^Also=web\.socket$/m);
  });
  for (const ok of ["8080", "[::1]:443", "0.0.0.0:1", "/run/web/web.sock"]) {
    it(`takes ${ok}`, () => {
      const r = renderUnit({ ...base, socket: ok });
      assert.match(
        r.files.find((f) => f.path === "web.socket")?.content ?? "",
        new RegExp(`^ListenStream=${ok.replace(/[[\]./]/g, "\\$&")}$`, "m"),
      );
    });
  }
  const bad = [
    "0",
    "65536",
    "localhost:80",
    "1.2.3:80",
    "[1.2.3.4]:80",
    "::1:80",
    "/run/a b",
    "/run/x\nExecStartPre=/bin/sh",
    "80\nExecStartPre=/bin/sh",
    "relative/path",
    `/run/${"x".repeat(120)}`,
    "%H:80",
  ];
  for (const address of bad) {
    it(`refuses ${JSON.stringify(address).slice(0, 40)} with USAGE`, () => {
      assert.throws(
        () => renderUnit({ ...base, socket: address }),
        (e) => isSecretError(e, "USAGE"),
      );
    });
  }
  it("refuses the job server and drop-ins", () => {
    assert.throws(
      () => renderUnit({ service: "keyhold-jobs", mode: "jobserver", socket: "8080" }),
      (e) => isSecretError(e, "USAGE"),
    );
    assert.throws(
      () => renderUnit({ service: "web", mode: "standard", dropIn: true, socket: "8080" }),
      (e) => isSecretError(e, "USAGE"),
    );
  });
});

describe("--health", () => {
  it("renders ExecStartPost= with the command's words checked like --exec", () => {
    const r = renderUnit({ ...base, health: "/usr/bin/curl -fsS --retry 5 http://127.0.0.1:8080/health" });
    const service = r.files.find((f) => f.path === "web.service")?.content ?? "";
    assert.match(
      service,
      /^ExecStartPost=\/usr\/bin\/curl -fsS --retry 5 http:\/\/127\.0\.0\.1:8080\/health$/m,
    );
  });
  it("refuses a key-shaped word, a relative program and the job server", () => {
    assert.throws(
      () => renderUnit({ ...base, health: "/usr/bin/check --token kh-canary-ABCDEFGHIJKLMNOPQRSTUV" }),
      (e) => isSecretError(e, "SECRET_IN_COMMAND"),
    );
    assert.throws(
      () => renderUnit({ ...base, health: "check" }),
      (e) => isSecretError(e, "USAGE"),
    );
    assert.throws(
      () => renderUnit({ service: "keyhold-jobs", mode: "jobserver", health: "/bin/true" }),
      (e) => isSecretError(e, "USAGE"),
    );
  });
});
