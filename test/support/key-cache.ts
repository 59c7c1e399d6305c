import { readFileSync } from "node:fs";
import type { SealedKeyFile } from "../../src/load/index.js";
import { type KeyCacheEntry, keyCacheEntry } from "../../src/load/key-cache.js";

/** The key cache's entry for the key sealed in `file` now, under the host key `env` names (undefined: not kept). */
export function cacheEntryOf(file: SealedKeyFile, env: NodeJS.ProcessEnv): KeyCacheEntry | undefined {
  return keyCacheEntry({ name: file.name, path: file.path, sealed: readFileSync(file.path), maxBytes: 1024, env });
}
