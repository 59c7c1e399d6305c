import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { startServer, type TestServer, waitFor } from "../jobs/support.js";

/**
 * Finding of fuzz/targets/jobserver-http.fuzz.mjs, not fixed here (src/jobs/server.ts is another
 * change's): a client that declares a body longer than it sends, half-closes and waits until
 * http.requestTimeoutMs passes makes readBody reject
 * with the request's own "aborted" error, not an ApiError, so the server logs
 * `internal error: aborted` and takes the INTERNAL (500) path for an ordinary client hang-up.
 * The "close" handler meant for this case (BAD_REQUEST) never runs first.
 */
describe("job server findings of the fuzzer", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      config: ({ root, outputs }) => ({
        http: { headersTimeoutMs: 200, requestTimeoutMs: 400 },
        jobs: { noop: { argv: ["/bin/true"], cwd: root, outputDir: outputs } },
      }),
    });
  });
  after(async () => {
    await server.cleanup();
  });

  it(
    "a client hanging up in the middle of its body is not an internal error",
    { todo: "readBody: reject a request 'error' (aborted) with ApiError BAD_REQUEST, as its 'close' handler does" },
    async () => {
      await new Promise<void>((resolve) => {
        const s = connect(server.socket);
        s.on("error", () => undefined);
        s.on("close", () => resolve());
        // Past http.requestTimeoutMs the server has given up on the body; stop waiting then.
        setTimeout(() => s.destroy(), 3000);
        s.on("connect", () =>
          s.end("POST /v1/jobs/noop/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"params\":"),
        );
      });
      // The server logs to stderr; give it the moment it needs to handle the hang-up.
      await waitFor("the server to notice", () => (server.stderr().length > 0 ? true : undefined), 2000).catch(
        () => undefined,
      );
      assert.doesNotMatch(server.stderr(), /internal error/);
    },
  );
});
