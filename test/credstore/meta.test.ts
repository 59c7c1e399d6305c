/** The history of current versions in a credential's metadata stays bounded, newest kept. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CURRENT_HISTORY_MAX, type CredentialMeta, withCurrent } from "../../src/credstore/meta.js";

describe("the history of current versions", () => {
  it("keeps the last CURRENT_HISTORY_MAX changes, oldest dropped, and starts one for old metadata", () => {
    let meta: CredentialMeta = { name: "k", current: 1, created: "x", updated: "x", versions: [] };
    for (let i = 0; i < CURRENT_HISTORY_MAX + 6; i++) meta = withCurrent(meta, (i % 2) + 1, 1000 * i, "y");
    assert.equal(meta.currentHistory?.length, CURRENT_HISTORY_MAX);
    assert.equal(meta.currentHistory?.[0]?.since, new Date(6000).toISOString());
    assert.deepEqual(meta.currentHistory?.at(-1), {
      version: ((CURRENT_HISTORY_MAX + 5) % 2) + 1,
      since: new Date(1000 * (CURRENT_HISTORY_MAX + 5)).toISOString(),
    });
    assert.equal(meta.current, meta.currentHistory?.at(-1)?.version);
  });
});
